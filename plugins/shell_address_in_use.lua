-- shell_address_in_use.lua - "Address already in use" (EADDRINUSE, errno 98).
--
-- Finds who listens on the port (doctor.port_owner: only the user's own
-- processes are named) and offers to stop that process, or a read-only
-- look with ss when the owner is someone else's or unknown.

local WELL_KNOWN = {
	[22] = "an SSH server", [80] = "a web server (nginx, apache2)", [443] = "a web server (nginx, apache2)",
	[3000] = "a Node/React/Grafana dev server", [5000] = "a Flask dev server (on macOS: AirPlay)",
	[5432] = "PostgreSQL", [3306] = "MySQL/MariaDB", [6379] = "Redis or a Ray head node (GCS)",
	[8000] = "a Python dev server (uvicorn, Django, http.server)", [8080] = "a web/proxy server",
	[8265] = "the Ray dashboard", [8888] = "Jupyter", [27017] = "MongoDB",
}

-- The port from the detector, or read from the error's text (a Python
-- traceback shows bind(("", 8000)) or a port= argument).
local function port_of(incident)
	local p = incident.extra and tonumber(incident.extra.port)
	if p then
		return p
	end
	local text = (incident.text or "") .. "\n" .. (incident.message or "")
	p = text:match("%(%s*['\"][^'\"]*['\"]%s*,%s*(%d+)%s*%)") or text:match("port%s*=%s*(%d+)")
		or text:match("[%w%]]:(%d+)[^%d]")
	p = tonumber(p)
	if p and p > 0 and p < 65536 then
		return p
	end
	return nil
end

local function ss_remedy(port)
	return {
		key = "show-listener",
		title = ("Show what listens on port %d (ss; read-only, run as root to see other users' processes)"):format(port),
		argv = { "ss", "-ltnp", "sport = :" .. port },
		changes_system = false,
		timeout = 10,
	}
end

local function diagnose(incident, ctx)
	local port = port_of(incident)
	if not port then
		return {
			summary = "Address already in use: another process listens on the port",
			explanation = "The program tried to listen on a TCP port that another socket already holds. The error did "
				.. "not say which port; `ss -ltnp` lists the listening sockets and their processes.",
			confidence = 0.5,
			remedies = {},
		}
	end
	local owner = doctor.port_owner(port)
	local d = { confidence = 0.85, remedies = {} }
	local choose = " Or leave it running and start yours on another port (most servers take --port/-p or a PORT "
		.. "environment variable)."
	if owner and owner.pid then
		local who = ("pid %d (%s)"):format(owner.pid, owner.command or "?")
		d.summary = ("Port %d is already used by %s"):format(port, who)
		d.explanation = ("%s, one of your own processes, is listening on port %d, often an earlier run of the same "
			.. "server still going in another terminal, a background job or a notebook. Stop it if it is a "
			.. "leftover."):format(who, port) .. choose
		d.remedies[1] = {
			key = "kill-owner",
			title = ("Stop %s with SIGTERM (kill %d)"):format(who, owner.pid),
			argv = { "kill", tostring(owner.pid) },
			changes_system = true,
			timeout = 10,
		}
		return d
	end
	local guess = WELL_KNOWN[port]
	d.summary = ("Port %d is already in use by another process"):format(port)
	d.explanation = ("Something already listens on port %d%s, but not a process of yours that doctor can see: it "
		.. "belongs to another user or a system service (then `sudo ss -ltnp 'sport = :%d'` names it and "
		.. "`systemctl status` shows the service), or lives in a container publishing that port (`docker ps`)."):format(
		port, guess and (", typically " .. guess) or "", port) .. choose
	if port < 1024 then
		d.explanation = d.explanation .. " Ports below 1024 are privileged: a system service is the usual owner."
	end
	d.confidence = 0.75
	d.remedies[1] = ss_remedy(port)
	return d
end

return {
	name = "shell.address_in_use",
	version = "1.0",
	description = "Address already in use: which process holds the port, and how to free it",
	config = {},
	match = function(incident)
		if incident.exception == "AddressInUse" then
			return true
		end
		local c = incident.exception and incident.exception:match("([%w_]+)$")
		local msg = incident.message or ""
		return (c == "OSError" or c == "error") and (msg:find("[Errno 98]", 1, true) ~= nil
			or msg:find("[Errno 48]", 1, true) ~= nil)
	end,
	diagnose = diagnose,
	tools = {
		port_owner = {
			description = "The process (of the user's own) listening on a TCP port",
			parameters = { type = "object", properties = { port = { type = "integer" } }, required = { "port" } },
			run = function(args, ctx)
				local p = tonumber(args.port)
				if not p or p < 1 or p > 65535 then
					return { error = "port must be 1..65535" }
				end
				return doctor.port_owner(p) or { port = p, owner = "unknown or another user's" }
			end,
		},
	},
}
