-- python_missing_module.lua - "ModuleNotFoundError: No module named 'x'".
--
-- Works out which distribution to install (import names and PyPI names
-- often differ: cv2 is opencv-python, and `pip install sklearn` or
-- `pip install fitz` installs the wrong thing), and recognises the cases
-- where pip is not the answer: a module of the user's own project that is
-- not on sys.path, a C extension module the interpreter was built without,
-- a submodule that a newer release of an installed library removed, a
-- Windows-only module, and an externally managed (PEP 668) interpreter.
--
-- config.mappings: { ["import.name"] = "distribution" } merged over the
-- built-in table (a dotted key matches that module and its submodules).

-- Import name -> what to install. dist: the PyPI distribution; apt: the
-- Debian package providing it for the system python3; note: one sentence
-- worth knowing; no_pip: why pip cannot install it (no remedy then);
-- windows: a Windows-only module.
local KNOWN = {
	cv2 = { dist = "opencv-python", apt = "python3-opencv",
		note = "On a server without a display, opencv-python-headless is the smaller build; opencv-contrib-python adds the contrib modules. Install only one of them: they all provide cv2 and overwrite each other." },
	sklearn = { dist = "scikit-learn", apt = "python3-sklearn",
		note = "The PyPI package named `sklearn` is a deprecated placeholder that refuses to install: the real one is scikit-learn." },
	skimage = { dist = "scikit-image", apt = "python3-skimage" },
	PIL = { dist = "Pillow", apt = "python3-pil",
		note = "Pillow is the maintained fork of PIL and keeps the import name PIL." },
	yaml = { dist = "PyYAML", apt = "python3-yaml" },
	bs4 = { dist = "beautifulsoup4", apt = "python3-bs4" },
	dotenv = { dist = "python-dotenv", apt = "python3-dotenv",
		note = "The PyPI package named `dotenv` is a different, unmaintained project." },
	serial = { dist = "pyserial", apt = "python3-serial",
		note = "The PyPI package named `serial` is an unrelated project that also provides `serial`; uninstall it if present." },
	fitz = { dist = "PyMuPDF", apt = "python3-fitz",
		note = "The PyPI package named `fitz` is an unrelated project; PyMuPDF provides `fitz` (and `pymupdf`)." },
	Crypto = { dist = "pycryptodome",
		note = "pycryptodome replaces the abandoned pycrypto; do not install both." },
	Cryptodome = { dist = "pycryptodomex" },
	["google.protobuf"] = { dist = "protobuf", apt = "python3-protobuf" },
	["google.cloud.storage"] = { dist = "google-cloud-storage" },
	["google.cloud.bigquery"] = { dist = "google-cloud-bigquery" },
	["google.generativeai"] = { dist = "google-generativeai" },
	["google.auth"] = { dist = "google-auth" },
	["google.oauth2"] = { dist = "google-auth" },
	["google.colab"] = { no_pip = "google.colab exists only inside Google Colab notebooks; the code is meant to run there, or the Colab-specific lines must be removed." },
	googleapiclient = { dist = "google-api-python-client" },
	grpc = { dist = "grpcio" },
	attr = { dist = "attrs", apt = "python3-attr" },
	dateutil = { dist = "python-dateutil", apt = "python3-dateutil" },
	jwt = { dist = "PyJWT", apt = "python3-jwt",
		note = "The PyPI package named `jwt` is a different library with another API." },
	magic = { dist = "python-magic", apt = "python3-magic",
		note = "python-magic needs the libmagic1 system library (apt-get install libmagic1)." },
	docx = { dist = "python-docx",
		note = "The PyPI package named `docx` is an old, incompatible project." },
	pptx = { dist = "python-pptx" },
	OpenSSL = { dist = "pyOpenSSL", apt = "python3-openssl" },
	MySQLdb = { dist = "mysqlclient", apt = "python3-mysqldb",
		note = "mysqlclient compiles against the MySQL/MariaDB client library: without a wheel for your platform it needs default-libmysqlclient-dev, pkg-config and a compiler." },
	mysql = { dist = "mysql-connector-python" },
	psycopg2 = { dist = "psycopg2-binary", apt = "python3-psycopg2",
		note = "psycopg2-binary is the self-contained wheel, the usual choice for development; the psycopg2 project recommends building `psycopg2` from source (needs libpq-dev) for production." },
	psycopg = { dist = "psycopg[binary]",
		note = "psycopg 3 needs the libpq library: the [binary] extra bundles it." },
	pkg_resources = { dist = "setuptools", apt = "python3-setuptools",
		note = "pkg_resources comes with setuptools, which virtual environments made by Python 3.12+ no longer include." },
	git = { dist = "GitPython" },
	github = { dist = "PyGithub" },
	zmq = { dist = "pyzmq" },
	usb = { dist = "pyusb" },
	websocket = { dist = "websocket-client",
		note = "`websocket` comes from websocket-client; the similarly named `websockets` is another library." },
	nacl = { dist = "PyNaCl" },
	Bio = { dist = "biopython" },
	OpenGL = { dist = "PyOpenGL" },
	wx = { dist = "wxPython" },
	kafka = { dist = "kafka-python" },
	community = { dist = "python-louvain",
		note = "The PyPI package named `community` is unrelated; python-louvain provides `community`." },
	umap = { dist = "umap-learn",
		note = "The PyPI package named `umap` is unrelated; umap-learn provides `umap`." },
	whisper = { dist = "openai-whisper",
		note = "The PyPI package named `whisper` is Graphite's database library, not OpenAI's speech model." },
	slugify = { dist = "python-slugify" },
	multipart = { dist = "python-multipart" },
	speech_recognition = { dist = "SpeechRecognition" },
	llama_cpp = { dist = "llama-cpp-python" },
	faiss = { dist = "faiss-cpu",
		note = "faiss-cpu is the CPU build on PyPI; GPU builds come from conda (pytorch/nvidia channels)." },
	cupy = { dist = "cupy-cuda12x",
		note = "CuPy wheels are per CUDA major version: cupy-cuda12x for CUDA 12, cupy-cuda11x for CUDA 11; pick the one matching your driver." },
	osgeo = { dist = "GDAL", apt = "python3-gdal",
		note = "The GDAL Python bindings must match the system libgdal version; on Debian python3-gdal is by far the easier route." },
	gi = { dist = "PyGObject", apt = "python3-gi",
		note = "PyGObject builds against system GObject libraries; on Debian python3-gi is the easier route." },
	cairo = { dist = "pycairo" },
	dbus = { dist = "dbus-python" },
	ldap = { dist = "python-ldap" },
	torch = { dist = "torch",
		note = "Plain `pip install torch` gets PyPI's default build (CUDA wheels on Linux x86_64). For a specific CUDA version or a CPU-only build use the index URL from pytorch.org, e.g. `--index-url https://download.pytorch.org/whl/cpu`. torchvision/torchaudio must match the torch version." },
	torchvision = { dist = "torchvision",
		note = "torchvision must match the installed torch version; pip may replace torch to satisfy it." },
	torchaudio = { dist = "torchaudio",
		note = "torchaudio must match the installed torch version; pip may replace torch to satisfy it." },
	tensorflow = { dist = "tensorflow",
		note = "TensorFlow publishes wheels for a limited range of Python versions; on a newer Python pip reports no matching distribution. For NVIDIA GPUs on Linux use tensorflow[and-cuda]." },
	jax = { dist = "jax",
		note = "This installs the CPU build; NVIDIA GPU support is the jax[cuda12] extra." },
	detectron2 = { no_pip = "detectron2 is not published on PyPI: install it from its GitHub repository following its INSTALL.md (it compiles against your torch)." },
	apex = { no_pip = "NVIDIA apex is not on PyPI (the PyPI package named `apex` is unrelated): build it from github.com/NVIDIA/apex, or use torch.cuda.amp, which replaced most of it." },
	flash_attn = { dist = "flash-attn",
		note = "flash-attn compiles CUDA code unless a prebuilt wheel matches your torch/CUDA; it needs `--no-build-isolation` and torch installed first." },
	tkinter = { apt = "python3-tk", no_pip = "tkinter is part of the standard library but Debian ships it separately (python3-tk); a Python built from source needs tk-dev at build time." },
	distutils = { dist = "setuptools", apt = "python3-distutils",
		note = "distutils was removed from the standard library in Python 3.12; setuptools provides a replacement. Debian's Python 3.11 ships it separately as python3-distutils." },
	lib2to3 = { apt = "python3-lib2to3", no_pip = "lib2to3 is standard library that Debian ships separately (python3-lib2to3); it was removed from Python 3.13." },
	ensurepip = { apt = "python3-venv", no_pip = "Debian ships ensurepip (needed by `python3 -m venv`) separately in python3-venv." },
	pip = { apt = "python3-pip", no_pip = "pip itself is missing from this interpreter: `python -m ensurepip --upgrade` restores it, or on Debian's system Python the python3-pip package." },
	apt = { apt = "python3-apt", no_pip = "The apt module belongs to Debian's system Python (python3-apt) and is not on PyPI; it cannot be used from a virtualenv that does not see system site-packages." },
	win32api = { windows = true }, win32con = { windows = true },
	win32com = { windows = true }, win32gui = { windows = true },
	pywintypes = { windows = true }, winreg = { windows = true },
	msvcrt = { windows = true }, winsound = { windows = true },
	_winapi = { windows = true },
}

-- C extension modules of the standard library: missing one means the
-- interpreter was built without the library it wraps.
local PRIVATE_EXT = {
	_ctypes = { dev = "libffi-dev", what = "ctypes (libffi)" },
	_ssl = { dev = "libssl-dev", what = "ssl (OpenSSL)" },
	_hashlib = { dev = "libssl-dev", what = "hashlib's OpenSSL algorithms" },
	_sqlite3 = { dev = "libsqlite3-dev", what = "sqlite3" },
	_tkinter = { dev = "tk-dev", apt = "python3-tk", what = "tkinter (Tcl/Tk)" },
	_lzma = { dev = "liblzma-dev", what = "lzma (xz)" },
	_bz2 = { dev = "libbz2-dev", what = "bz2" },
	_curses = { dev = "libncurses-dev", what = "curses" },
	_dbm = { dev = "libgdbm-compat-dev", what = "dbm.ndbm" },
	_gdbm = { dev = "libgdbm-dev", apt = "python3-gdbm", what = "dbm.gnu" },
	_uuid = { dev = "uuid-dev", what = "uuid's C accelerator" },
	readline = { dev = "libreadline-dev", what = "readline" },
	zlib = { dev = "zlib1g-dev", what = "zlib" },
}

-- Submodules that releases of a library removed. min/max: versions with
-- it; fix: what to change; pin: a requirement that brings it back when
-- that is still sensible; pin_python_below: only offer the pin then.
local REMOVED = {
	["sklearn.externals.joblib"] = { dist = "scikit-learn", removed = "0.23",
		fix = "Import joblib directly (`import joblib`); it is already installed as a dependency of scikit-learn. Models pickled with sklearn.externals.joblib load with plain joblib too." },
	["sklearn.externals.six"] = { dist = "scikit-learn", removed = "0.23",
		fix = "Use the `six` package directly, or drop Python 2 compatibility code." },
	["sklearn.cross_validation"] = { dist = "scikit-learn", removed = "0.20",
		fix = "Use sklearn.model_selection, which has the same functions." },
	["sklearn.grid_search"] = { dist = "scikit-learn", removed = "0.20",
		fix = "Use sklearn.model_selection (GridSearchCV, RandomizedSearchCV)." },
	["tensorflow.contrib"] = { dist = "tensorflow", removed = "2.0",
		fix = "tf.contrib has no single replacement: most of it moved to core TensorFlow, tf.keras or TensorFlow Addons. TensorFlow 1.x does not run on current Python versions, so pinning is not an option." },
	["tensorflow.examples.tutorials"] = { dist = "tensorflow", removed = "2.0",
		fix = "Load MNIST with tf.keras.datasets.mnist.load_data() instead." },
	["numpy.distutils"] = { dist = "numpy", removed = "2.0 (and with Python 3.12 already in 1.26)",
		fix = "Build with meson-python or setuptools instead of numpy.distutils.", pin = "numpy<2", pin_python_below = "3.12" },
	["torch._six"] = { dist = "torch", removed = "2.0",
		fix = "torch._six was internal; the library importing it is too old for PyTorch 2: upgrade that library (see the frame that imports it), or pin torch<2.", pin = "torch<2", pin_python_below = "3.12" },
	["keras.layers.advanced_activations"] = { dist = "keras", removed = "2.13 / Keras 3",
		fix = "Import the activations from keras.layers directly (e.g. keras.layers.LeakyReLU)." },
}

-- Top-level names shared by many distributions (PEP 420 namespaces): the
-- owner of the top level says nothing about the submodule.
local NAMESPACES = { google = true, azure = true, zope = true, jaraco = true,
	sphinxcontrib = true, backports = true, mpl_toolkits = true, ruamel = true,
	nvidia = true, ["google.cloud"] = true }

local SAFE_MODULE = "^[%a_][%w_]*[%w_.]*$"
local SAFE_DIST = "^[%w][%w._-]*%[?[%w,._-]*%]?$"

-- A confidence lowered by `by`, kept to two decimals (0.9 - 0.25 = 0.65).
local function lowered(confidence, by)
	return math.floor((confidence - by) * 100 + 0.5) / 100
end

-- The exception's class name without its module path.
local function class_of(exc)
	return exc and exc:match("([%w_]+)$")
end

-- The module named by a "No module named ..." message, or nil.
local function module_of(message)
	if not message then
		return nil
	end
	local m = message:match("No module named '([^']+)'") or message:match("No module named ([%w_.]+)")
	if m and m:match(SAFE_MODULE) and not m:find("%.%.") and m:sub(-1) ~= "." then
		return m
	end
	return nil
end

-- "3.11" < "3.12": compare dotted versions numerically.
local function version_below(v, limit)
	local a, b = {}, {}
	for n in tostring(v):gmatch("%d+") do a[#a + 1] = tonumber(n) end
	for n in tostring(limit):gmatch("%d+") do b[#b + 1] = tonumber(n) end
	for i = 1, math.max(#a, #b) do
		local x, y = a[i] or 0, b[i] or 0
		if x ~= y then return x < y end
	end
	return false
end

-- The longest dotted prefix of module that a table knows, and its entry.
local function lookup(tbl, module)
	local name = module
	while name do
		if tbl[name] then
			return tbl[name], name
		end
		name = name:match("^(.*)%.[^.]+$")
	end
	return nil
end

-- What to install for module: an entry like KNOWN's plus `how` saying
-- where the name came from ("config", "table", "convention", "guess").
local function resolve(module, config)
	local mapped, key = lookup(config.mappings or {}, module)
	if type(mapped) == "string" and mapped:match(SAFE_DIST) then
		return { dist = mapped, how = "config", key = key }
	end
	local known
	known, key = lookup(KNOWN, module)
	if known then
		local r = { how = "table", key = key }
		for k, v in pairs(known) do r[k] = v end
		return r
	end
	local top, second, third = module:match("^([%w_]+)%.?([%w_]*)%.?([%w_]*)")
	-- The Azure and Google Cloud SDKs name distributions after the module.
	if top == "azure" and second ~= "" and third ~= "" then
		return { dist = "azure-" .. second .. "-" .. third, how = "convention" }
	elseif top == "google" and second == "cloud" and third ~= "" then
		return { dist = "google-cloud-" .. third, how = "convention" }
	end
	if NAMESPACES[top] then
		return nil
	end
	if top:sub(1, 1) == "_" then
		return nil
	end
	return { dist = top, how = "guess" }
end

-- A module of the user's project under the cwd: the path found, or nil.
local function local_module(module)
	local rel = module:gsub("%.", "/")
	for _, p in ipairs({ rel .. ".py", rel .. "/__init__.py" }) do
		if doctor.file_exists(p) then
			return p
		end
	end
	local top = module:match("^[^.]+")
	if doctor.file_exists(top .. ".py") then
		return top .. ".py"
	end
	if doctor.list_dir(rel) then
		return rel .. "/"
	end
	return nil
end

-- The environment prefix an installed-library frame ran from, if the
-- frames show one (".../lib/python3.11/site-packages/x.py" -> "...").
local function running_prefix(incident)
	for _, f in ipairs(incident.frames or {}) do
		local p = f.file and f.file:match("^(/.-)/lib/python%d+%.%d+/site%-packages/")
		if p then
			return p
		end
	end
	return nil
end

local function pip_remedy(python, dist, module, extra_args, key, title)
	local argv = { python, "-m", "pip", "install" }
	for _, a in ipairs(extra_args or {}) do argv[#argv + 1] = a end
	argv[#argv + 1] = dist
	return {
		key = key or "pip-install",
		title = title or ("Install " .. dist .. " into " .. python),
		argv = argv,
		changes_system = true,
		verify = { python, "-c", "import " .. module },
		timeout = 900,
		undo = "pip",
	}
end

local function apt_remedy(pkg, module)
	return {
		key = "apt-install",
		title = "Install the Debian package " .. pkg .. " (needs root)",
		argv = { "apt-get", "install", "-y", pkg },
		changes_system = true,
		verify = { "dpkg", "-s", pkg },
		timeout = 600,
		undo = { "apt-get", "remove", "-y", pkg },
	}
end

local function is_system_python(python, info)
	return (info and info.prefix == "/usr") or python:match("^/usr/bin/") ~= nil
		or python:match("^/bin/") ~= nil
end

-- (b) a C extension module of the standard library.
local function diagnose_private(module, python, info)
	local top = module:match("^[^.]+")
	local ext = PRIVATE_EXT[top]
	if not ext then
		return nil
	end
	local d = {
		summary = ("%s was built without the %s extension module"):format(python, top),
		explanation = ("%s is the C part of %s in the standard library; it is not on PyPI, so pip cannot help. "
			.. "It is missing when Python was compiled without the %s headers (common with pyenv, asdf or a "
			.. "source build): install %s, then rebuild that Python (e.g. `pyenv install --force <version>`) "
			.. "and recreate virtual environments made from it."):format(top, ext.what, ext.dev, ext.dev),
		confidence = 0.85,
		remedies = {},
	}
	if ext.apt and is_system_python(python, info) then
		d.explanation = ("%s is the C part of %s; Debian ships it in a separate package, %s, "
			.. "which is not installed. pip cannot install it."):format(top, ext.what, ext.apt)
		d.remedies[1] = apt_remedy(ext.apt, module)
		d.remedies[1].verify = { python, "-c", "import " .. module }
		d.confidence = 0.9
	elseif ext.apt and info and info.virtualenv then
		d.explanation = d.explanation .. (" If this virtualenv was created from Debian's /usr/bin/python3, "
			.. "installing %s (as root) is enough."):format(ext.apt)
	end
	return d
end

-- (a) the module is a file or folder of the user's project.
local function diagnose_local(module, found, ctx)
	return {
		summary = ("'%s' is your project's own module (%s), but Python did not find it"):format(module, found),
		explanation = ("%s exists under %s, so nothing is missing from the environment: the import failed "
			.. "because that folder was not on sys.path when the program ran. Python puts the folder of the "
			.. "script it runs on sys.path (not the current directory): `python sub/script.py` sees sub/, "
			.. "and a notebook sees the kernel's start directory. Run from the project root with "
			.. "`python -m package.script`, set PYTHONPATH to the project root, or install the project in "
			.. "editable mode (`pip install -e .`). Do not `pip install %s`: a PyPI package of that name, if "
			.. "any, is someone else's code."):format(found, ctx.cwd or "the working directory", module:match("^[^.]+")),
		confidence = 0.85,
		remedies = {},
	}
end

-- (c) the top level is installed but the submodule is not.
local function diagnose_submodule(module, owner, owner_version, python, info)
	local removed, key = lookup(REMOVED, module)
	local d = {
		summary = ("%s %s is installed but has no module '%s'"):format(owner, owner_version or "", module),
		confidence = 0.75,
		remedies = {},
	}
	if removed then
		d.summary = ("'%s' was removed in %s %s (installed: %s)"):format(key, removed.dist, removed.removed, owner_version or "unknown")
		d.explanation = ("The code was written for an older %s: %s was removed in version %s. %s"):format(
			removed.dist, key, removed.removed, removed.fix)
		d.confidence = 0.9
		local pyver = info and info.version
		if removed.pin and pyver and version_below(pyver, removed.pin_python_below) then
			d.remedies[1] = pip_remedy(python, removed.pin, module, nil, "pin",
				("Pin %s (the last versions with %s) in %s"):format(removed.pin, key, python))
		end
		return d
	end
	d.explanation = ("The distribution %s %s provides '%s' but not '%s': the submodule was renamed or removed "
		.. "in this version, belongs to an optional extra, or the code expects a different version. Check "
		.. "the library's changelog for '%s'; pip cannot install a submodule on its own."):format(
		owner, owner_version or "", module:match("^[^.]+"), module, module)
	d.confidence = 0.6
	return d
end

-- The install remedies, honouring PEP 668 and conda.
local function install_remedies(d, r, module, python, info, ctx)
	local managed = info and info.externally_managed and not info.virtualenv and not info.conda
	if not managed then
		d.remedies[#d.remedies + 1] = pip_remedy(python, r.dist, module)
		if info and info.conda then
			d.explanation = d.explanation .. " This is a conda environment: pip runs through the environment's "
				.. "own python so the package lands in it; `conda install` may also have it, possibly under another name."
		end
		return
	end
	d.explanation = d.explanation .. (" %s is externally managed (PEP 668): its packages belong to the "
		.. "operating system and pip refuses to install into it. Install the Debian package if there is one, "
		.. "or create a virtual environment for the project and install there."):format(python)
	if r.apt then
		d.remedies[#d.remedies + 1] = apt_remedy(r.apt, module)
		d.remedies[#d.remedies].verify = { python, "-c", "import " .. module }
	end
	if ctx.cwd then
		local venv = ctx.cwd .. "/.venv"
		d.remedies[#d.remedies + 1] = {
			key = "create-venv",
			title = ("Create a virtual environment in %s (then install %s with %s/bin/python -m pip install %s and run the program with that python)"):format(venv, r.dist, venv, r.dist),
			argv = { python, "-m", "venv", venv },
			cwd = ctx.cwd,
			changes_system = false,
			verify = { venv .. "/bin/python", "-c", "import sys" },
			timeout = 120,
		}
	end
	d.remedies[#d.remedies + 1] = pip_remedy(python, r.dist, module, { "--user", "--break-system-packages" },
		"pip-install-break-system",
		("Override PEP 668: pip install --user --break-system-packages %s (can break OS tools that use %s)"):format(r.dist, python))
end

local function diagnose(incident, ctx)
	local module = module_of(incident.message)
	if not module then
		return nil
	end
	local top = module:match("^[^.]+")
	local python = ctx.python or "python3"
	local info = ctx.python and doctor.python_info(ctx.python) or nil

	local found = ctx.cwd and local_module(module)
	if found then
		return diagnose_local(module, found, ctx)
	end
	local private = diagnose_private(module, python, info)
	if private then
		return private
	end

	local r = resolve(module, ctx.config or {})
	if r and r.windows then
		return {
			summary = ("'%s' is Windows-only"):format(module),
			explanation = ("%s exists only on Windows (pywin32 or the Windows standard library). This code path "
				.. "assumes Windows; on Linux it needs a platform check (`sys.platform == 'win32'`) or a "
				.. "portable replacement. Nothing to install."):format(module),
			confidence = 0.9,
			remedies = {},
		}
	end

	-- Who provides the top level tells a removed submodule (dotted name) or
	-- a module installed for another interpreter (plain name); a namespace
	-- top level (google, azure) is shared and tells nothing.
	local owner, owner_version
	if ctx.python and not NAMESPACES[top] then
		owner, owner_version = doctor.module_owner(ctx.python, top)
		if owner and module:find(".", 1, true) then
			return diagnose_submodule(module, owner, owner_version, python, info)
		end
	end

	if not r then
		return {
			summary = ("No module named '%s'"):format(module),
			explanation = ("'%s' belongs to a namespace shared by many distributions, so its name alone does not say "
				.. "which one to install; search PyPI for the package that documents `import %s`."):format(module, module),
			confidence = 0.4,
			remedies = {},
		}
	end

	local d = {
		summary = ("Module '%s' is not installed in %s"):format(module, python),
		explanation = "",
		confidence = 0.9,
		remedies = {},
	}
	if r.how == "config" then
		d.explanation = ("Your configuration maps '%s' to the distribution %s."):format(r.key, r.dist)
	elseif r.how == "table" and r.dist and r.dist:lower() ~= top:lower() then
		d.summary = ("Module '%s' is not installed in %s (it comes from the distribution %s)"):format(module, python, r.dist)
		d.explanation = ("'%s' is provided by the distribution %s: the import name and the name to install differ."):format(r.key, r.dist)
	elseif r.how == "table" then
		d.explanation = ("'%s' is provided by the distribution %s."):format(r.key or top, r.dist or top)
	elseif r.how == "convention" then
		d.explanation = ("By the SDK's naming convention '%s' comes from %s."):format(module, r.dist)
		d.confidence = 0.75
	else
		d.explanation = ("Assuming the distribution is named like the module (%s). Import and PyPI names differ "
			.. "for some packages (cv2/opencv-python, sklearn/scikit-learn): check that %s on PyPI is the "
			.. "project you mean before installing."):format(r.dist, r.dist)
		d.confidence = 0.65
	end
	if r.note then
		d.explanation = d.explanation .. " " .. r.note
	end
	if owner then
		d.explanation = d.explanation .. (" doctor sees %s %s installed for %s, so the program that failed ran "
			.. "under a different interpreter (a notebook kernel from another environment, `python` vs `python3`, "
			.. "sudo dropping the virtualenv): compare `import sys; print(sys.executable)`."):format(owner, owner_version or "", python)
		d.summary = ("'%s' is installed for %s, but the failing program ran another interpreter"):format(module, python)
		d.confidence = 0.6
		return d
	end
	local ran = running_prefix(incident)
	if ran and info and info.prefix and ran ~= info.prefix then
		d.explanation = d.explanation .. (" Note: the traceback shows libraries from %s, not from %s: the program "
			.. "may run under another environment than the one doctor was told about."):format(ran, info.prefix)
		d.confidence = lowered(d.confidence, 0.2)
	end
	if r.no_pip then
		d.summary = ("'%s' cannot be installed with pip"):format(module)
		d.explanation = r.no_pip
		d.confidence = 0.85
		if r.apt and is_system_python(python, info) then
			d.remedies[1] = apt_remedy(r.apt, module)
			d.remedies[1].verify = { python, "-c", "import " .. module }
		end
		return d
	end
	if not r.dist:match(SAFE_DIST) or r.dist:sub(1, 1) == "-" then
		return d
	end
	if not ctx.python then
		d.explanation = d.explanation .. " The source did not say which Python it runs, so the remedy uses "
			.. "`python3` from doctor's PATH, which may not be the interpreter that failed."
		d.confidence = lowered(d.confidence, 0.25)
	end
	install_remedies(d, r, module, python, info, ctx)
	return d
end

return {
	name = "python.missing_module",
	version = "1.0",
	description = "ModuleNotFoundError: which distribution to install, and when pip is not the answer",
	config = { mappings = {} },
	match = function(incident)
		local c = class_of(incident.exception)
		return (c == "ModuleNotFoundError" or c == "ImportError") and module_of(incident.message) ~= nil
	end,
	diagnose = diagnose,
	tools = {
		distribution_for_module = {
			description = "The PyPI distribution that provides an import name (cv2 -> opencv-python), with notes",
			parameters = { type = "object", properties = { module = { type = "string" } }, required = { "module" } },
			run = function(args, ctx)
				if type(args.module) ~= "string" or not args.module:match(SAFE_MODULE) then
					return { error = "module must be a dotted Python module name" }
				end
				local r = resolve(args.module, ctx.config or {})
				if not r then
					return { module = args.module, known = false }
				end
				return { module = args.module, distribution = r.dist, debian_package = r.apt,
					source = r.how, note = r.note or r.no_pip, windows_only = r.windows or false }
			end,
		},
		installed_version = {
			description = "The installed distribution and version providing a top-level module in the source's Python",
			parameters = { type = "object", properties = { module = { type = "string" } }, required = { "module" } },
			run = function(args, ctx)
				if not ctx.python then
					return { error = "the source's Python is unknown" }
				end
				if type(args.module) ~= "string" or not args.module:match(SAFE_MODULE) then
					return { error = "module must be a Python module name" }
				end
				local dist, version = doctor.module_owner(ctx.python, args.module:match("^[^.]+"))
				return { module = args.module, distribution = dist, version = version, installed = dist ~= nil }
			end,
		},
	},
}
