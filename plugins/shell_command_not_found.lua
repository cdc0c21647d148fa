-- shell_command_not_found.lua - "bash: foo: command not found".
--
-- Names the Debian package that provides a command (the binary name and
-- the package name often differ: rg is ripgrep, convert is imagemagick),
-- says when a command is not in Debian at all or is installed but not on
-- the PATH, and spots typos of common commands ("gti" -> git).
--
-- config.packages: { command = "debian-package" } merged over the table.

-- command -> Debian package, or a table { pkg=, note=, no_apt= }.
local PACKAGES = {
	gcc = "gcc", cc = "gcc", ["g++"] = "g++", make = "make", cmake = "cmake",
	clang = "clang", ["pkg-config"] = "pkg-config", gdb = "gdb", valgrind = "valgrind",
	strace = "strace", git = "git", curl = "curl", wget = "wget", unzip = "unzip",
	zip = "zip", jq = "jq", tree = "tree", htop = "htop", tmux = "tmux", vim = "vim",
	nano = "nano", rsync = "rsync", less = "less", file = "file", lsof = "lsof",
	ssh = "openssh-client", scp = "openssh-client", ["ssh-keygen"] = "openssh-client",
	ping = "iputils-ping", ip = "iproute2", ss = "iproute2",
	ifconfig = "net-tools", netstat = "net-tools", dig = "bind9-dnsutils",
	nslookup = "bind9-dnsutils", telnet = "telnet", nc = "netcat-openbsd",
	sqlite3 = "sqlite3", psql = "postgresql-client", mysql = "default-mysql-client",
	["redis-cli"] = "redis-tools", ffmpeg = "ffmpeg", ffprobe = "ffmpeg",
	convert = { pkg = "imagemagick", note = "ImageMagick 6 in Debian 12 provides `convert`; ImageMagick 7 renamed it `magick`." },
	identify = "imagemagick", tesseract = "tesseract-ocr", pdftotext = "poppler-utils",
	pdfinfo = "poppler-utils", pandoc = "pandoc", pdflatex = "texlive-latex-base",
	dot = "graphviz", xclip = "xclip", ["7z"] = "p7zip-full", rg = "ripgrep",
	fd = { pkg = "fd-find", note = "Debian installs the binary as `fdfind` (the name fd was taken): add `alias fd=fdfind` or a symlink in ~/.local/bin." },
	bat = { pkg = "bat", note = "Debian installs the binary as `batcat`." },
	python = { pkg = "python-is-python3", note = "Debian has no `python` command by default; python-is-python3 makes `python` run python3. Or type python3." },
	python3 = "python3", pip = { pkg = "python3-pip", note = "Inside a virtualenv pip comes with it (activate the venv, or use `python3 -m pip`). On Debian 12 the system pip refuses to install into the system Python (PEP 668): use a venv or pipx." },
	pip3 = { pkg = "python3-pip", note = "Inside a virtualenv pip comes with it (activate the venv, or use `python3 -m pip`)." },
	virtualenv = "python3-virtualenv", pipx = "pipx",
	poetry = { pkg = "python3-poetry", note = "Debian's poetry may lag behind; the Poetry project recommends `pipx install poetry`." },
	node = "nodejs", nodejs = "nodejs", npm = "npm", npx = "npm",
	yarn = { pkg = "yarnpkg", note = "Debian installs Yarn as `yarnpkg`; with Node 16.10+ `corepack enable` provides `yarn` instead." },
	go = "golang-go", gofmt = "golang-go", cargo = "cargo", rustc = "rustc",
	java = "default-jre", javac = "default-jdk", mvn = "maven", gradle = "gradle",
	ruby = "ruby", perl = "perl", php = "php-cli", lua = "lua5.4",
	docker = { pkg = "docker.io", note = "docker.io is Debian's build of Docker Engine; Docker's own apt repository ships docker-ce instead. Add yourself to the docker group to use it without root." },
	["docker-compose"] = { pkg = "docker-compose", note = "Debian's docker-compose is Compose v1; Compose v2 is `docker compose` (a Docker CLI plugin)." },
	aws = "awscli", gh = "gh", sudo = "sudo",
	["nvidia-smi"] = { pkg = "nvidia-smi", note = "nvidia-smi comes with the NVIDIA driver, which is in Debian's non-free component (enable non-free and non-free-firmware in apt sources, install nvidia-driver, reboot). Inside a container, nvidia-smi is provided by the NVIDIA Container Toolkit when the container starts with `--gpus all`: installing it in the image is wrong.", risky = true },
	nvcc = { pkg = "nvidia-cuda-toolkit", note = "nvidia-cuda-toolkit is in Debian's non-free component and is often older than the CUDA your framework wants; NVIDIA's CUDA repository has current versions. If CUDA is installed, /usr/local/cuda/bin is probably missing from PATH.", risky = true },
	unrar = { pkg = "unrar", note = "unrar is in Debian's non-free component; unar (main) also extracts RAR files." },
	kubectl = { no_apt = "kubectl is not in Debian's main archive: install it from the Kubernetes apt repository (pkgs.k8s.io) or as a single binary from dl.k8s.io." },
	helm = { no_apt = "helm is not in Debian: use the Helm project's install script or apt repository." },
	terraform = { no_apt = "terraform is not in Debian (license change): install it from HashiCorp's apt repository, or use the open-source fork OpenTofu (`tofu`)." },
	conda = { no_apt = "conda is not a Debian package. If Miniconda/Miniforge is installed, this shell was not initialised for it: run `~/miniconda3/bin/conda init` (or source its etc/profile.d/conda.sh) and open a new shell. Otherwise install Miniforge." },
	mamba = { no_apt = "mamba comes with Miniforge; run `conda init` for this shell, or install Miniforge." },
	brew = { no_apt = "Homebrew is not used on Debian: install the package with apt-get instead." },
	ll = { no_apt = "`ll` is a shell alias many distributions define (ls -l), not a program: use `ls -l` or add `alias ll='ls -alF'` to ~/.bashrc." },
}

-- Commands a typo is most likely aimed at.
local COMMON = { "git", "ls", "cd", "cat", "grep", "sed", "awk", "python", "python3", "pip", "pip3",
	"make", "docker", "kubectl", "npm", "node", "ssh", "curl", "wget", "sudo", "apt", "apt-get",
	"mkdir", "rm", "cp", "mv", "find", "less", "vim", "nano", "tar", "unzip", "cargo", "go",
	"conda", "poetry", "pytest", "jupyter", "tmux", "htop", "echo", "chmod", "chown", "touch",
	"head", "tail", "which", "top", "kill", "ping", "man", "history", "source", "export", "clear" }

-- Damerau-Levenshtein distance (adjacent swaps count 1), capped strings.
local function distance(a, b)
	if #a > 32 or #b > 32 then
		return 99
	end
	local d = {}
	for i = 0, #a do d[i] = { [0] = i } end
	for j = 0, #b do d[0][j] = j end
	for i = 1, #a do
		for j = 1, #b do
			local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
			d[i][j] = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
			if i > 1 and j > 1 and a:sub(i, i) == b:sub(j - 1, j - 1) and a:sub(i - 1, i - 1) == b:sub(j, j) then
				d[i][j] = math.min(d[i][j], d[i - 2][j - 2] + 1)
			end
		end
	end
	return d[#a][#b]
end

local function typo_of(command)
	local best, best_d
	for _, c in ipairs(COMMON) do
		local dist = distance(command, c)
		local limit = #c <= 4 and 1 or 2
		if c ~= command and dist <= limit and (not best_d or dist < best_d) then
			best, best_d = c, dist
		end
	end
	return best
end

local function entry_of(command, config)
	local user = (config.packages or {})[command]
	-- a Debian package name; anything else (an option, a path) is ignored
	if type(user) == "string" and user:match("^[%l%d][%l%d.+-]+$") then
		return { pkg = user, from_config = true }
	end
	local e = PACKAGES[command]
	if type(e) == "string" then
		return { pkg = e }
	end
	return e
end

local function apt_remedy(pkg)
	return {
		key = "apt-install",
		title = ("Install the Debian package %s (apt-get needs root: run doctor's remedy as root or with sudo)"):format(pkg),
		argv = { "apt-get", "install", "-y", pkg },
		changes_system = true,
		verify = { "dpkg", "-s", pkg },
		timeout = 900,
		undo = { "apt-get", "remove", "-y", pkg },
	}
end

local function diagnose(incident, ctx)
	local command = incident.extra and incident.extra.command
	if type(command) ~= "string" or command == "" then
		return nil
	end
	if command:find("/", 1, true) then
		return {
			summary = ("%s does not exist (or its interpreter does not)"):format(command),
			explanation = ("A command given with a path is run from that path, not searched on PATH: check that %s exists "
				.. "relative to the current directory. If it does, its first line (#!) names an interpreter that is "
				.. "missing, or the file has Windows line endings (\\r\\n), which make the #! line name `bash\\r`: "
				.. "`sed -i 's/\\r$//' %s` fixes that."):format(command, command),
			confidence = 0.6,
			remedies = {},
		}
	end
	local e = entry_of(command, ctx.config or {})
	local found = doctor.which(command)
	if found then
		return {
			summary = ("%s is installed (%s) but not on your shell's PATH"):format(command, found),
			explanation = ("doctor finds %s on its own PATH, so the program is installed; the shell that failed has a "
				.. "different PATH (a login vs non-login shell, a profile that was not sourced, sudo's secure_path, "
				.. "cron's minimal PATH, or a container). Add %s to PATH in ~/.profile or ~/.bashrc, or call it by its "
				.. "full path."):format(found, found:match("^(.*)/[^/]+$") or found),
			confidence = 0.7,
			remedies = {},
		}
	end
	if not e then
		local typo = typo_of(command)
		if typo then
			return {
				summary = ("'%s' is probably a typo for '%s'"):format(command, typo),
				explanation = ("There is no command %s; %s is a common command one or two keystrokes away."):format(command, typo),
				confidence = 0.6,
				remedies = {},
			}
		end
		return nil
	end
	if e.no_apt then
		return { summary = ("%s is not installed (and not packaged in Debian)"):format(command),
			explanation = e.no_apt, confidence = 0.8, remedies = {} }
	end
	local d = {
		summary = ("%s is not installed: it comes with the Debian package %s"):format(command, e.pkg),
		explanation = ("The shell found no program named %s on PATH. On Debian and Ubuntu it is provided by the "
			.. "package %s%s."):format(command, e.pkg, e.from_config and " (from your configuration)" or ""),
		confidence = e.risky and 0.6 or 0.85,
		remedies = { apt_remedy(e.pkg) },
	}
	if e.note then
		d.explanation = d.explanation .. " " .. e.note
	end
	if e.risky then
		d.remedies[1].title = d.remedies[1].title .. " - read the explanation first"
	end
	return d
end

return {
	name = "shell.command_not_found",
	version = "1.0",
	description = "command not found: the Debian package to install, PATH problems and typos",
	config = { packages = {} },
	match = { exception = "CommandNotFound" },
	diagnose = diagnose,
	tools = {
		debian_package_for_command = {
			description = "The Debian package that provides a command, with notes",
			parameters = { type = "object", properties = { command = { type = "string" } }, required = { "command" } },
			run = function(args, ctx)
				if type(args.command) ~= "string" then
					return { error = "command must be a string" }
				end
				local e = entry_of(args.command, ctx.config or {})
				if not e then
					return { command = args.command, known = false, typo_of = typo_of(args.command) }
				end
				return { command = args.command, package = e.pkg, note = e.note or e.no_apt,
					installed_at = doctor.which(args.command) }
			end,
		},
	},
}
