-- shell_no_space.lua - "No space left on device" (ENOSPC, errno 28).
--
-- Measures the filesystem that filled up (doctor.disk_usage), walks it for
-- the biggest folders (doctor.largest_dirs, bounded) and, when a cache
-- that is safe to empty is among them, offers to empty it: pip's cache,
-- apt's downloaded packages. Other big caches (Hugging Face, conda,
-- Docker) are named with the command that cleans them.
--
-- config.min_cache_bytes: a cache smaller than this is not worth a remedy.

local function human(b)
	local units = { "B", "KiB", "MiB", "GiB", "TiB" }
	local i = 1
	while b >= 1024 and i < #units do
		b = b / 1024
		i = i + 1
	end
	return ("%.1f %s"):format(b, units[i])
end

local function parent(path)
	return path:match("^(.*)/[^/]*$") or ""
end

-- The deepest existing directory of path whose filesystem can be measured.
local function measured(path)
	local p = path
	while p and p ~= "" do
		local u = doctor.disk_usage(p)
		if u then
			return p, u
		end
		p = parent(p)
	end
	local u = doctor.disk_usage("/")
	return "/", u
end

-- The home directory a path lives under, if it looks like one.
local function home_of(path)
	return path and (path:match("^(/home/[^/]+)") or path:match("^(/root)"))
end

-- Known caches: a path suffix, a name, and how to clean it (argv builder
-- or a sentence).
local CACHES = {
	{ suffix = "/.cache/pip", name = "pip's download cache",
		argv = function(ctx) return { ctx.python or "python3", "-m", "pip", "cache", "purge" } end },
	{ suffix = "/var/cache/apt", name = "apt's downloaded packages",
		argv = function() return { "apt-get", "clean" } end, root = true },
	{ suffix = "/.cache/huggingface", name = "the Hugging Face model cache",
		how = "`huggingface-cli delete-cache` lets you pick the models to drop (it shows sizes first)" },
	{ suffix = "/.cache/torch", name = "PyTorch's hub/checkpoint cache", how = "delete models you no longer use from it" },
	{ suffix = "/pkgs", name = "conda's package cache", how = "`conda clean --all` removes unused packages and tarballs" },
	{ suffix = "/var/lib/docker", name = "Docker's images and volumes",
		how = "`docker system df` shows what uses it and `docker system prune` removes stopped containers and dangling images" },
	{ suffix = "/.cache/uv", name = "uv's cache", how = "`uv cache clean` empties it" },
	{ suffix = "/.npm", name = "npm's cache", how = "`npm cache clean --force` empties it" },
}

local function cache_of(path)
	for _, c in ipairs(CACHES) do
		if path:sub(-#c.suffix) == c.suffix then
			return c
		end
	end
	return nil
end

-- Biggest folders under root, looking one level into folders named
-- .cache so that pip/huggingface caches show up by name.
local function biggest(root)
	local found = doctor.largest_dirs(root, 8) or {}
	local out = {}
	for _, e in ipairs(found) do
		out[#out + 1] = e
		if e.path:match("/%.cache$") then
			for _, sub in ipairs(doctor.largest_dirs(e.path, 5) or {}) do
				out[#out + 1] = sub
			end
		end
	end
	return out
end

local function diagnose(incident, ctx)
	local e = incident.extra or {}
	-- OSError: [Errno 28] No space left on device: '/tmp/x/ckpt.pt'
	local target = e.path or (incident.message or ""):match("No space left on device: '([^']+)'")
	if type(target) == "string" and target:sub(1, 1) ~= "/" and ctx.cwd then
		target = ctx.cwd .. "/" .. target
	end
	local text = incident.text or ""
	local is_pip = text:find("Could not install packages", 1, true) or (e.program == "pip")
	if not target and is_pip then
		-- pip filled the environment's prefix or its temporary directory.
		target = ctx.python and ctx.python:match("^(.*)/bin/[^/]+$") or "/tmp"
	end
	target = target or ctx.cwd or "/"
	local where, usage = measured(target)
	local d = { confidence = 0.85, remedies = {} }
	d.summary = ("No space left on the filesystem holding %s"):format(where)
	local parts = {}
	if usage and usage.total and usage.total > 0 then
		d.summary = ("No space left on the filesystem holding %s (%s free of %s)"):format(where, human(usage.free or 0), human(usage.total))
		if (usage.free or 0) > 0.05 * usage.total then
			parts[#parts + 1] = ("It has room again now (%s free): something temporary filled it, such as a "
				.. "download or build in /tmp, or the space was freed when the failing program exited."):format(human(usage.free))
		end
	end
	local tmp = is_pip and where ~= "/tmp" and doctor.disk_usage("/tmp")
	if tmp and tmp.total and tmp.total > 0 then
		parts[#parts + 1] = ("/tmp has %s free of %s."):format(human(tmp.free or 0), human(tmp.total))
	end
	if is_pip then
		parts[#parts + 1] = "pip writes to three places: the environment's site-packages, its cache (~/.cache/pip) and a "
			.. "build/unpack directory under $TMPDIR (/tmp). Large wheels such as CUDA libraries need several GiB in "
			.. "/tmp: if /tmp is a small tmpfs, run pip with TMPDIR pointing to a disk with room, or add --no-cache-dir."
	end
	-- Walk the user's home when the path shows it (caches live there),
	-- else the working directory, else the full filesystem's folder.
	local root, list = where, {}
	local candidates = { home_of(target) or false, home_of(ctx.cwd) or false, ctx.cwd or false, where }
	for _, candidate in ipairs(candidates) do
		list = candidate and biggest(candidate) or {}
		if #list > 0 then
			root = candidate
			break
		end
	end
	local names = {}
	for i, entry in ipairs(list) do
		if i <= 6 then
			names[#names + 1] = entry.path .. " " .. human(entry.bytes or 0)
		end
	end
	if #names > 0 then
		parts[#parts + 1] = ("Biggest folders under %s: %s%s."):format(root, table.concat(names, ", "),
			(list[1] and list[1].partial) and " (the walk was cut short; sizes are lower bounds)" or "")
	end
	local min = tonumber((ctx.config or {}).min_cache_bytes) or 100 * 1024 ^ 2
	for _, entry in ipairs(list) do
		local c = cache_of(entry.path)
		if c and (entry.bytes or 0) >= min then
			if c.argv then
				d.remedies[#d.remedies + 1] = {
					key = c.suffix == "/.cache/pip" and "pip-cache-purge" or "apt-clean",
					title = ("Empty %s (%s at %s)%s"):format(c.name, human(entry.bytes), entry.path, c.root and "; needs root" or ""),
					argv = c.argv(ctx),
					changes_system = true,
					timeout = 300,
				}
			else
				parts[#parts + 1] = ("%s takes %s (%s): %s."):format(c.name, human(entry.bytes), entry.path, c.how)
			end
		end
	end
	parts[#parts + 1] = "Delete or move what you do not need; `du -xh --max-depth=1 <dir> | sort -h` narrows it down further."
	d.explanation = table.concat(parts, " ")
	return d
end

return {
	name = "shell.no_space",
	version = "1.0",
	description = "No space left on device: which filesystem, the biggest folders and caches safe to empty",
	config = { min_cache_bytes = 104857600 },
	match = function(incident)
		if incident.exception == "NoSpaceLeft" then
			return true
		end
		local c = incident.exception and incident.exception:match("([%w_]+)$")
		return c == "OSError" and (incident.message or ""):find("[Errno 28]", 1, true) ~= nil
	end,
	diagnose = diagnose,
}
