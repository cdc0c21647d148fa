-- ray.lua - Ray's errors: a remote task's exception wrapped in
-- RayTaskError, dead actors, the memory monitor killing workers, a full
-- object store, ray.init() called twice, client/cluster version
-- mismatches and an unreachable GCS (the head node's control store).
--
-- The line detectors catch what Ray prints outside Python tracebacks:
-- the raylet's periodic "Workers ... killed due to memory pressure (OOM)"
-- summary, "A worker died or was killed ..." and "Failed to connect to
-- GCS" log lines.

local OOM_DOC = "https://docs.ray.io/en/latest/ray-core/scheduling/ray-oom-prevention.html"

-- Import names whose distribution is named differently (the full table
-- lives in python_missing_module.lua; these are the ones met in Ray jobs).
local DISTS = { cv2 = "opencv-python", sklearn = "scikit-learn", PIL = "Pillow",
	yaml = "PyYAML", bs4 = "beautifulsoup4", skimage = "scikit-image",
	dotenv = "python-dotenv", attr = "attrs", dateutil = "python-dateutil",
	["google.protobuf"] = "protobuf", fitz = "PyMuPDF", serial = "pyserial" }

local function class_of(exc)
	return exc and exc:match("([%w_]+)$")
end

-- The ray CLI next to the source's python, else on PATH.
local function ray_cli(ctx)
	if ctx.python then
		local bin = ctx.python:match("^(.*)/[^/]+$")
		if bin then
			return bin .. "/ray"
		end
	end
	return doctor.which("ray") or "ray"
end

-- Everything known about the error as one text to search: the message,
-- the error's own lines and the recent output around it.
local function all_text(incident)
	return table.concat({ incident.message or "", incident.text or "", incident.context or "" }, "\n")
end

local function readonly(key, title, argv)
	return { key = key, title = title, argv = argv, changes_system = false, timeout = 60 }
end

---------------------------------------------------------------- detectors

local function oom_line(state, text)
	local n, rest = text:match("(%d+) Workers %(tasks / actors%) killed due to memory pressure %(OOM%)(.*)")
	if n then
		state.after = 3
		return {
			exception = "RayWorkerOOM",
			message = n .. " Workers (tasks / actors) killed due to memory pressure (OOM)",
			extra = { killed = tonumber(n), node_ip = rest:match("IP: ([%d%.]+)") },
		}
	end
	-- The summary is followed by "(raylet) " lines pointing at the docs.
	if state.after and state.after > 0 and text:match("^%(raylet%)") then
		state.after = state.after - 1
		return true
	end
	return nil
end

-- The text after `from` up to `to` (or the end), by plain search: these
-- lines can be long, and a lazy pattern would rescan them from every start.
local function between(text, from, to)
	local _, s = text:find(from, 1, true)
	if not s then
		return nil
	end
	local e = text:find(to, s + 1, true)
	return text:sub(s + 1, e and e - 1 or #text)
end

local function worker_died_line(state, text)
	if not text:find("A worker died or was killed while executing a task by an unexpected system error", 1, true) then
		return nil
	end
	return {
		exception = "RayWorkerDied",
		message = "A worker died or was killed while executing a task by an unexpected system error",
		extra = {
			exit_type = text:match("Worker exit type: ([%u_]+)"),
			exit_detail = between(text, "Worker exit detail: ", " There are some potential root causes"),
			worker_ip = text:match("Worker IP address: ([%d%.]+)"),
			worker_pid = tonumber(text:match("Worker PID: (%d+)") or ""),
		},
	}
end

local function gcs_line(state, text)
	if text:match("^%s*File ") or text:match("^%w[%w_.]*Error:") then
		return nil -- part of a traceback: the Python detector has it
	end
	local s = text:find("Failed to connect to GCS", 1, true)
	if not s then
		return nil
	end
	if state.reported then
		return true
	end
	state.reported = true
	return {
		exception = "RayGcsUnreachable",
		message = text:sub(s):gsub("%s+$", ""),
		extra = { address = text:match("at address ([%w%.%-]+:%d+)") },
	}
end

---------------------------------------------------------------- diagnoses

local function diagnose_oom(incident, ctx)
	local all = all_text(incident)
	local used, total, frac, threshold = all:match("was ([%d.]+GB) / ([%d.]+GB) %(([%d.]+)%), which exceeds the memory usage threshold of ([%d.]+)")
	local ip = (incident.extra and incident.extra.node_ip) or all:match("IP: ([%d%.]+)")
	local task = all:match("name=([%w_.:<>-]+), pid=")
	local d = {
		summary = "Ray's memory monitor killed workers: the node ran out of RAM",
		explanation = "This is host memory, not GPU memory. When a node's RAM use passes the threshold "
			.. "(0.95 by default) the raylet kills the most recently started task or actor so the whole node "
			.. "does not get killed by the kernel's OOM killer. Too many tasks running at once, each holding large "
			.. "data, is the usual cause: request more CPUs (or `memory=`) per task so fewer run in parallel, "
			.. "process data in smaller blocks, and let killed tasks retry (max_retries / max_restarts). "
			.. "RAY_memory_usage_threshold moves the threshold; it does not create memory.",
		confidence = 0.85,
		references = { OOM_DOC },
		remedies = {},
	}
	if used then
		d.summary = ("Ray killed %s: node memory %s of %s (%s) exceeded the threshold %s"):format(
			task and ("task " .. task) or "a worker", used, total, frac, threshold)
	elseif incident.extra and incident.extra.killed then
		d.summary = ("Ray killed %d worker(s) on %s: the node ran out of RAM"):format(incident.extra.killed, ip or "a node")
	end
	if ip and ip:match("^[%d.]+$") then
		d.remedies[1] = readonly("raylet-log", "Show the raylet log of " .. ip .. " (lists the memory use that triggered the kill; read-only)",
			{ ray_cli(ctx), "logs", "raylet.out", "-ip", ip })
	end
	return d
end

local function diagnose_worker_died(incident, ctx)
	local e = incident.extra or {}
	local d = {
		summary = "A Ray worker process died while running a task",
		explanation = "The worker process exited without raising a Python exception, so Ray can only say it died. "
			.. "The usual causes, most likely first: the kernel's OOM killer (SIGKILL under memory pressure; check "
			.. "`dmesg` on the node), a crash in native code (a segfault in a C/CUDA extension), or `ray stop --force`. "
			.. "The worker's own log (python-core-worker-*.log and worker-*.err in /tmp/ray/session_latest/logs on "
			.. "that node) has its last words.",
		confidence = 0.7,
		remedies = {},
	}
	if e.exit_detail then
		d.explanation = d.explanation .. " Ray reported: " .. e.exit_detail
	end
	if e.worker_ip and e.worker_ip:match("^[%d.]+$") then
		d.remedies[1] = readonly("raylet-log", "Show the raylet log of " .. e.worker_ip .. " (read-only)",
			{ ray_cli(ctx), "logs", "raylet.out", "-ip", e.worker_ip })
	end
	return d
end

local function diagnose_object_store(incident, ctx)
	local size = (incident.message or ""):match("Object size is (%d+) bytes")
	local d = {
		summary = "Ray's object store is full of objects still in use",
		explanation = "Every ray.put() and every task result lives in the node's shared-memory object store "
			.. "(by default 30% of RAM, backed by /dev/shm). Objects that are still referenced by an ObjectRef "
			.. "cannot be evicted, and spilling to disk could not keep up. Drop references you no longer need "
			.. "(`del refs`), fetch results in batches with ray.wait() instead of holding thousands of refs, put "
			.. "large shared inputs once with ray.put() instead of passing them to every task, or give the store more "
			.. "room (`ray.init(object_store_memory=...)`; in Docker also a bigger --shm-size). `ray memory` lists "
			.. "which objects are alive and who holds them.",
		confidence = 0.85,
		remedies = { readonly("ray-memory", "List the objects alive in the object store (ray memory; read-only)",
			{ ray_cli(ctx), "memory", "--stats-only" }) },
	}
	if size then
		d.summary = d.summary .. (" (the object that failed is %.1f MiB)"):format(tonumber(size) / 1048576)
	end
	return d
end

local function diagnose_actor(incident, ctx)
	local all = all_text(incident)
	local class = all:match("class_name: ([%w_%.]+)") or all:match("ray::([%w_]+)%.__init__%(")
	local who = class and ("actor " .. class) or "actor"
	local d = { summary = "Ray " .. who .. " died", confidence = 0.75, remedies = {} }
	if all:find("error raised in its creation task", 1, true) then
		local creation = all:match("creation task, (ray::[%w_%.]+%(%))")
		-- the inner exception: the last "SomeError: ..." line of the error itself
		local inner
		for line in ((incident.message or "") .. "\n" .. (incident.text or "")):gmatch("[^\n]+") do
			if line:match("^[%w_.]+Error: ") or line:match("^[%w_.]+Exception: ") then
				inner = line
			end
		end
		d.summary = ("Ray %s failed in its constructor%s"):format(who, inner and (": " .. inner) or "")
		d.explanation = ("The actor's __init__ (%s) raised an exception, so the actor never started and every "
			.. "call to it fails with RayActorError. Fix the constructor's error shown in the inner traceback; "
			.. "the calls are not the problem."):format(creation or "its creation task")
		d.confidence = 0.85
	elseif all:find("killed by `ray.kill`", 1, true) or all:find("ray.kill", 1, true) then
		d.explanation = "The actor was killed on purpose with ray.kill() while calls to it were still pending."
	elseif all:find("owner has died", 1, true) or all:find("owner died", 1, true) then
		d.explanation = "The process that created the actor (its owner: the driver or another actor) exited, and an "
			.. "actor's lifetime follows its owner's unless it is created with lifetime=\"detached\"."
	else
		d.explanation = "The actor's worker process died (Worker exit type " .. (all:match("Worker exit type: ([%u_]+)") or "unknown")
			.. "). Most often the node ran out of memory (the raylet's memory monitor or the kernel's OOM killer) or "
			.. "native code crashed. Check the worker's log for the actor (`ray logs actor --id <actor_id>`), and make the "
			.. "actor restartable with max_restarts / max_task_retries if losing it is expected."
	end
	return d
end

local function diagnose_reinit()
	return {
		summary = "ray.init() was called while Ray was already initialised",
		explanation = "A process can connect to Ray once. This happens when a notebook cell with ray.init() runs "
			.. "again, or when a library already called it. Guard the call (`if not ray.is_initialized(): ray.init()`), "
			.. "pass ignore_reinit_error=True to keep the existing connection, or call ray.shutdown() first if the "
			.. "new call must take different arguments (another address, resources or runtime_env).",
		confidence = 0.9,
		remedies = {},
	}
end

-- {ray=, python=} of "The cluster was started with:" / "This process ... with:".
local function versions_after(text, header)
	local s = text:find(header, 1, true)
	if not s then
		return nil
	end
	local block = text:sub(s, s + 200)
	return { ray = block:match("Ray: ([%w%.%+]+)"), python = block:match("Python: ([%d%.]+)"),
		node = block:match("on node ([%w%.%-]+)") }
end

-- "3.10" and "3.10.13" agree (one is a prefix of the other, by component).
local function same_version(a, b)
	if #a > #b then
		a, b = b, a
	end
	return b == a or b:sub(1, #a + 1) == a .. "."
end

local function diagnose_version(incident, ctx)
	local all = all_text(incident)
	local cluster = versions_after(all, "The cluster was started with:") or {}
	local here = versions_after(all, "This process on node") or {}
	if not here.ray and ctx.python then
		local _, v = doctor.module_owner(ctx.python, "ray")
		here.ray = v
	end
	if not here.python and ctx.python then
		local info = doctor.python_info(ctx.python)
		here.python = info and info.version
	end
	local d = {
		summary = ("Ray version mismatch: cluster Ray %s / Python %s, this process Ray %s / Python %s"):format(
			cluster.ray or "?", cluster.python or "?", here.ray or "?", here.python or "?"),
		explanation = "Ray refuses to connect a process to a cluster running a different Ray version or a different "
			.. "Python version, because pickled functions and internal protocols are not compatible across them. "
			.. "The process has to match the cluster (or the cluster be restarted with the process's versions).",
		confidence = 0.9,
		remedies = {},
	}
	if cluster.python and here.python and not same_version(cluster.python, here.python) then
		d.explanation = d.explanation .. (" Python differs (%s vs %s): pip cannot change that; create the "
			.. "environment with Python %s (conda, pyenv or `uv venv --python %s`) or use the cluster's image."):format(
			cluster.python, here.python, cluster.python, cluster.python)
	end
	local cr = cluster.ray
	if cr and here.ray and cr ~= here.ray and cr:match("^%d+%.%d+[%w%.]*$") then
		local python = ctx.python or "python3"
		d.remedies[1] = {
			key = "pip-install-ray",
			title = ("Install Ray %s (the cluster's version) into %s"):format(cr, python),
			argv = { python, "-m", "pip", "install", "ray[default]==" .. cr },
			changes_system = true,
			verify = { python, "-c", ("import ray, sys; sys.exit(ray.__version__ != '%s')"):format(cr) },
			timeout = 900,
			undo = "pip",
		}
		if not ctx.python then
			d.confidence = 0.7
		end
	end
	return d
end

local function diagnose_gcs(incident, ctx)
	local all = all_text(incident)
	local d = { confidence = 0.8, remedies = {} }
	if all:find("Could not find any running Ray instance", 1, true) then
		d.summary = "No Ray cluster is running for ray.init() to connect to"
		d.explanation = "ray.init(address=\"auto\") (or RAY_ADDRESS) connects to an existing cluster and does not "
			.. "start one. Start a head node first (`ray start --head`), or call ray.init() without an address "
			.. "to start a local instance inside this process."
		d.remedies[1] = {
			key = "ray-start-head",
			title = "Start a local Ray head node (ray start --head; stop it later with ray stop)",
			argv = { ray_cli(ctx), "start", "--head" },
			changes_system = true,
			verify = { ray_cli(ctx), "status" },
			timeout = 120,
			undo = { ray_cli(ctx), "stop" },
		}
		return d
	end
	local addr = (incident.extra and incident.extra.address) or all:match("at address ([%w%.%-]+:%d+)")
	d.summary = "Cannot reach Ray's GCS" .. (addr and (" at " .. addr) or "") .. " (the head node's control service)"
	d.explanation = "Every Ray process talks to the GCS on the head node (port 6379 by default). It is not answering: "
		.. "the head node is down or was restarted (`ray stop`, a crash: see gcs_server.out in the head's "
		.. "/tmp/ray/session_latest/logs), the address is wrong, or a firewall blocks the port between nodes. "
		.. "After a head restart, workers and drivers of the old session must reconnect."
	if addr and addr:match("^[%w%.%-]+:%d+$") then
		d.remedies[1] = readonly("ray-status", "Ask the cluster at " .. addr .. " for its status (read-only)",
			{ ray_cli(ctx), "status", "--address", addr })
	end
	return d
end

-- The remote traceback inside a RayTaskError's message.
local function remote_frames(message)
	local frames = {}
	for file, line, fn in message:gmatch('File "([^"]+)", line (%d+), in ([^\n]+)') do
		frames[#frames + 1] = { file = file, line = tonumber(line), ["function"] = fn }
	end
	return frames
end

local function diagnose_task_missing_module(incident, ctx, where, module)
	local top = module:match("^[^.]+")
	local dist = DISTS[module:match("^[^.]+%.[^.]+") or ""] or DISTS[top] or top
	local d = {
		summary = ("Ray workers cannot import '%s' (in %s)"):format(module, where),
		confidence = 0.85,
		remedies = {},
	}
	local local_file = ctx.cwd and (doctor.file_exists(top .. ".py") or doctor.file_exists(top .. "/__init__.py"))
	local dv
	if ctx.python then
		local _
		_, dv = doctor.module_owner(ctx.python, top)
	end
	if local_file then
		d.explanation = ("'%s' is a module of your project (%s). The driver imports it from its working directory, "
			.. "but workers run elsewhere and do not have your files. Ship them with the job: "
			.. "`ray.init(runtime_env={\"working_dir\": \".\"})` (or `\"py_modules\": [\"%s\"]`), or "
			.. "`ray job submit --working-dir . -- python script.py`."):format(top, ctx.cwd, top)
		return d
	end
	local pin = dv and (dist .. "==" .. dv) or dist
	d.explanation = ("The remote function failed on a worker, not in the driver: %s is %s, but the worker's "
		.. "Python environment does not have it (workers on other nodes, or a cluster started from another "
		.. "environment, use their own site-packages). Install it for the workers through the job's runtime "
		.. "environment: `ray.init(runtime_env={\"pip\": [\"%s\"]})` (or per task with "
		.. "`.options(runtime_env=...)`), or bake it into the cluster's image / node setup so every node has it."):format(
		dist, dv and ("installed for the driver (version " .. dv .. ")") or "not installed for the driver either", pin)
	return d
end

local function diagnose_task(incident, ctx)
	local exc = incident.exception or ""
	local inner = exc:match("RayTaskError%((.+)%)$") or "an exception"
	local msg = incident.message or ""
	local fn = msg:match("ray::([%w_%.<>]+)%(")
	local where = fn and (fn .. "()") or "a remote function"
	local pid, ip = msg:match("%(pid=(%d+), ip=([%d%.]+)%)")
	local module = msg:match("No module named '([%w_.]+)'")
	if module then
		return diagnose_task_missing_module(incident, ctx, where, module)
	end
	local last = msg:match("\n([^\n]*)$") or msg
	local frames = remote_frames(msg)
	local at = frames[#frames]
	local d = {
		summary = ("Remote Ray task %s raised %s"):format(where, last ~= "" and last or inner),
		explanation = ("RayTaskError(%s) is only the wrapper: %s raised %s inside a Ray worker%s, and ray.get() "
			.. "re-raised it in the driver. The driver's frames end in ray.get(); the real error is the inner one"):format(
			inner, where, inner, ip and (" (pid " .. pid .. " on " .. ip .. ")") or ""),
		confidence = 0.6,
		remedies = {},
	}
	if at then
		d.explanation = d.explanation .. (", raised at %s:%d in %s. Fix it there as you would a local %s; "
			.. "calling the function's body directly (without .remote()) reproduces it in the driver."):format(
			at.file, at.line, at["function"], inner)
	else
		d.explanation = d.explanation .. ". Its traceback is in the message above."
	end
	return d
end

---------------------------------------------------------------- dispatch

local function classify(incident)
	local exc = incident.exception or ""
	local msg = incident.message or ""
	local c = class_of(exc)
	if exc == "RayWorkerOOM" or (exc:match("^ray%.") and c == "OutOfMemoryError")
		or msg:find("Task was killed due to the node running low on memory", 1, true) then
		return diagnose_oom
	elseif exc == "RayWorkerDied" or c == "WorkerCrashedError" then
		return diagnose_worker_died
	elseif c == "ObjectStoreFullError" or c == "OutOfDiskError" and msg:find("object", 1, true) then
		return diagnose_object_store
	elseif c == "RayActorError" or c == "ActorDiedError" then
		return diagnose_actor
	elseif msg:find("ray.init twice", 1, true) or msg:find("Calling ray.init() again", 1, true) then
		return diagnose_reinit
	elseif msg:find("Version mismatch: The cluster was started with", 1, true) then
		return diagnose_version
	elseif exc == "RayGcsUnreachable" or msg:find("Failed to connect to GCS", 1, true)
		or msg:find("GCS has not started", 1, true) or msg:find("Could not find any running Ray instance", 1, true) then
		return diagnose_gcs
	elseif exc:find("RayTaskError%(") then
		return diagnose_task
	end
	return nil
end

return {
	name = "ray",
	version = "1.0",
	description = "Ray: remote task errors, dead actors and workers, memory and object store pressure, version and GCS problems",
	config = {},
	detect = {
		{ name = "worker_oom", line = oom_line },
		{ name = "worker_died", line = worker_died_line },
		{ name = "gcs_unreachable", line = gcs_line },
	},
	match = function(incident)
		return classify(incident) ~= nil
	end,
	diagnose = function(incident, ctx)
		local f = classify(incident)
		return f and f(incident, ctx) or nil
	end,
	tools = {
		ray_version = {
			description = "The Ray version installed for the source's Python",
			parameters = { type = "object", properties = {} },
			run = function(args, ctx)
				if not ctx.python then
					return { error = "the source's Python is unknown" }
				end
				local dist, v = doctor.module_owner(ctx.python, "ray")
				return { installed = dist ~= nil, version = v }
			end,
		},
	},
}
