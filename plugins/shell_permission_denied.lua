-- shell_permission_denied.lua - "Permission denied" (EACCES).
--
-- Three different problems share the words: a script of the user's own
-- without the execute bit (fixable: chmod u+x, within the project), a
-- system path that needs root (explained; doctor does not chmod system
-- files), and ssh refusing the user's keys (explained, with a read-only
-- ssh check). Device files name the group that grants access.

local DEVICES = {
	{ prefix = "/dev/ttyUSB", group = "dialout", what = "USB serial adapters" },
	{ prefix = "/dev/ttyACM", group = "dialout", what = "USB serial devices (Arduino and the like)" },
	{ prefix = "/dev/kvm", group = "kvm", what = "hardware virtualisation" },
	{ prefix = "/var/run/docker.sock", group = "docker", what = "the Docker daemon" },
	{ prefix = "/run/docker.sock", group = "docker", what = "the Docker daemon" },
	{ prefix = "/dev/nvidia", group = "video", what = "NVIDIA GPUs" },
	{ prefix = "/dev/video", group = "video", what = "cameras" },
}

local SYSTEM_PREFIXES = { "/etc/", "/usr/", "/opt/", "/var/", "/proc/", "/sys/", "/root/", "/boot/", "/lib", "/bin/", "/sbin/", "/srv/", "/mnt/", "/media/" }

local function is_shell(program)
	return program == "bash" or program == "sh" or program == "zsh" or program == "dash" or program == "fish"
end

local function diagnose_ssh(incident, ctx)
	local host = (incident.extra and incident.extra.host) or "the server"
	local d = {
		summary = ("%s rejected your SSH keys"):format(host),
		explanation = ("The server accepts only public-key logins and none of the keys ssh offered is authorised for "
			.. "that account. Check, in order: that you have a key (~/.ssh/id_ed25519 or id_rsa; create one with "
			.. "`ssh-keygen -t ed25519`), that it is loaded (`ssh-add -l`; an agent forwarded into a container or "
			.. "started by another session may be empty), that its public half is registered for the account (for "
			.. "GitHub/GitLab: in your account's SSH keys settings), and that you use the right user: Git hosts "
			.. "always want `git@`. Permissions matter too: ~/.ssh must be 700 and private keys 600, or ssh ignores "
			.. "them. For a Git remote, the HTTPS URL with a token avoids SSH entirely."),
		confidence = 0.85,
		remedies = {},
	}
	if host:match("^[%w._-]+@[%w.-]+$") or host:match("^[%w.-]+$") then
		d.remedies[1] = {
			key = "ssh-check",
			title = ("Try the login verbosely without prompting, to see which keys ssh offers (ssh -vT %s; read-only)"):format(host),
			argv = { "ssh", "-vT", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", host },
			changes_system = false,
			timeout = 30,
		}
	end
	return d
end

-- A path the shell could not execute, inside the project.
local function diagnose_script(path, ctx)
	local interpreter = path:match("%.py$") and "python3" or (path:match("%.pl$") and "perl" or "bash")
	local d = {
		summary = ("%s is not executable"):format(path),
		explanation = ("The shell was asked to run %s, which exists but lacks the execute permission (files from a zip "
			.. "or a download, or created by an editor, usually do). `chmod u+x` gives it to you; or run it through "
			.. "its interpreter (`%s %s`). If it is already executable, the folder is on a filesystem mounted noexec "
			.. "(often /tmp or a shared drive), and only running it through the interpreter works."):format(path, interpreter, path),
		confidence = 0.85,
		remedies = {
			{
				key = "chmod-user-exec",
				title = ("Make %s executable for you (chmod u+x)"):format(path),
				argv = { "chmod", "u+x", path },
				cwd = ctx.cwd,
				changes_system = false,
				verify = { "test", "-x", path },
				timeout = 10,
				undo = { "chmod", "u-x", path },
			},
		},
	}
	return d
end

local function diagnose_device(path, dev)
	return {
		summary = ("No access to %s: it needs the %s group"):format(path, dev.group),
		explanation = ("%s (%s) is accessible to root and the %s group. Add yourself with `sudo usermod -aG %s $USER`, "
			.. "then log out and back in (or `newgrp %s`) for the group to apply. Running the program with sudo works "
			.. "too but gives it far more than it needs."):format(path, dev.what, dev.group, dev.group, dev.group),
		confidence = 0.85,
		remedies = {},
	}
end

local function diagnose_system(path, program)
	local writing = program == "mkdir" or program == "touch" or program == "cp" or program == "mv" or program == "tee"
		or program == "rm" or program == "ln"
	return {
		summary = ("%s is owned by the system: %s needs root there"):format(path, program or "the program"),
		explanation = ("%s belongs to root or a system account. %s Do not chmod or chown system files to get around "
			.. "it: that weakens the system and package upgrades may reset it. If this is a one-off administrative "
			.. "action, run the command with sudo."):format(path, writing
				and "To keep data of your own, use a folder under your home directory (or a project folder), or ask for a directory owned by you (`sudo mkdir -p DIR && sudo chown $USER DIR`)."
				or "Reading it is restricted on purpose (secrets, other users' data, kernel state)."),
		confidence = 0.75,
		remedies = {},
	}
end

local function diagnose(incident, ctx)
	local e = incident.extra or {}
	if e.host or e.program == "ssh" or (incident.message or ""):find("(publickey", 1, true) then
		return diagnose_ssh(incident, ctx)
	end
	local path = e.path
	if type(path) ~= "string" or path == "" then
		return nil
	end
	for _, dev in ipairs(DEVICES) do
		if path:sub(1, #dev.prefix) == dev.prefix then
			return diagnose_device(path, dev)
		end
	end
	if e.program == "find" then
		return {
			summary = ("find could not read %s%s"):format(path, (tonumber(e.count) or 0) > 1 and (" and " .. (e.count - 1) .. " more folders") or ""),
			explanation = "find walks every folder below its start and reports each one it may not read: this is "
				.. "noise when searching from / or another user's tree, not a failure of what you were looking for. "
				.. "Start from a folder of yours, skip the noise with `2>/dev/null`, or prune the unreadable trees "
				.. "(`find / -path /proc -prune -o -name x -print`).",
			confidence = 0.6,
			remedies = {},
		}
	end
	local inside = ctx.cwd and (path:sub(1, 1) ~= "/" or path:sub(1, #ctx.cwd + 1) == ctx.cwd .. "/")
	if inside and doctor.file_exists(path) and (is_shell(e.program) or path:match("^%./")) then
		return diagnose_script(path, ctx)
	end
	for _, p in ipairs(SYSTEM_PREFIXES) do
		if path:sub(1, #p) == p then
			return diagnose_system(path, e.program)
		end
	end
	if inside then
		return {
			summary = ("%s in your project is not accessible to you"):format(path),
			explanation = ("%s is under your working directory but you lack permission on it, which usually means "
				.. "another user created it: files written by a Docker container or a `sudo` command belong to root. "
				.. "`ls -l %s` shows the owner; `sudo chown -R $USER %s` takes it back."):format(path, path, path),
			confidence = 0.7,
			remedies = {},
		}
	end
	return nil
end

-- Detector: the Docker CLI's "permission denied while trying to connect to
-- the Docker daemon socket" (the shell detector only knows "Permission denied").
local function docker_socket_line(state, text)
	local sock = text:match("permission denied while trying to connect to the Docker daemon socket at unix://(/[%w/._-]+)")
	if not sock then
		return nil
	end
	return {
		exception = "PermissionDenied",
		message = sock .. ": Permission denied",
		extra = { path = sock, program = "docker" },
	}
end

return {
	name = "shell.permission_denied",
	version = "1.0",
	description = "Permission denied: scripts without +x, system paths, device groups, ssh keys",
	config = {},
	detect = { { name = "docker_socket", line = docker_socket_line } },
	match = function(incident)
		if incident.exception == "PermissionDenied" then
			return true
		end
		local c = incident.exception and incident.exception:match("([%w_]+)$")
		return c == "PermissionError"
	end,
	diagnose = function(incident, ctx)
		if incident.exception ~= "PermissionDenied" then
			-- PermissionError: [Errno 13] Permission denied: '/path'
			local path = (incident.message or ""):match("Permission denied: '([^']+)'")
			if not path then
				return nil
			end
			incident = { extra = { path = path, program = "python" }, message = incident.message }
		end
		return diagnose(incident, ctx)
	end,
}
