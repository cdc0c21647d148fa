-- cuda_oom.lua - GPU out of memory in PyTorch, TensorFlow and JAX.
--
-- Reads the numbers PyTorch prints (what was requested, capacity, free,
-- allocated, reserved-but-unallocated, other processes) and says which of
-- the usual fixes fits: smaller batches and activations, a fragmented
-- caching allocator, or memory held by someone else. Nothing to install:
-- the only remedy is a read-only look at who uses the GPU.

local UNITS = { B = 1, KiB = 1024, MiB = 1024 ^ 2, GiB = 1024 ^ 3, TiB = 1024 ^ 4 }

local function bytes(s)
	if not s then
		return nil
	end
	local n, u = s:match("([%d.]+) ?([KMGT]?i?B)")
	if not n or not UNITS[u] then
		return nil
	end
	return tonumber(n) * UNITS[u]
end

local function gib(b)
	return ("%.2f GiB"):format(b / UNITS.GiB)
end

local SIZE = "([%d.]+ [KMGT]?i?B)"

-- The numbers of PyTorch's message, old or new wording; missing ones nil.
local function parse_torch(msg)
	local r = { tried = bytes(msg:match("Tried to allocate " .. SIZE)), gpu = msg:match("GPU (%d+)") }
	-- torch >= 2.1: "GPU 0 has a total capacity of X of which Y is free."
	r.total = bytes(msg:match("total capac?i?ty of " .. SIZE))
	r.free = bytes(msg:match("of which " .. SIZE .. " is free"))
	r.process = bytes(msg:match("this process has " .. SIZE .. " memory in use"))
	r.allocated = bytes(msg:match(SIZE .. " is allocated by PyTorch"))
	r.unallocated = bytes(msg:match(SIZE .. " is reserved by PyTorch but unallocated"))
	r.others = {}
	for pid, use in msg:gmatch("Process (%d+) has " .. SIZE .. " memory in use") do
		r.others[#r.others + 1] = { pid = pid, bytes = bytes(use) }
	end
	if not r.total then
		-- torch < 2.1: "(GPU 0; 15.78 GiB total capacity; 12.34 GiB already
		-- allocated; 1.02 GiB free; 13.50 GiB reserved in total by PyTorch)"
		r.total = bytes(msg:match(SIZE .. " total capacity"))
		r.allocated = bytes(msg:match(SIZE .. " already allocated"))
		r.free = bytes(msg:match(SIZE .. " free"))
		local reserved = bytes(msg:match(SIZE .. " reserved in total by PyTorch"))
		if reserved and r.allocated then
			r.unallocated = reserved - r.allocated
			r.process = reserved
		end
	end
	return r
end

local GENERAL = "To need less memory: lower the batch size (keep the effective batch with gradient accumulation), "
	.. "shorten sequences or images, train in mixed precision (torch.autocast with bf16/fp16), enable gradient "
	.. "checkpointing for large models, and run evaluation under torch.no_grad() / torch.inference_mode()."

local function torch_diagnosis(incident, msg)
	local r = parse_torch(msg)
	local d = { confidence = 0.9, remedies = {}, explanation = "" }
	local parts = {}
	d.summary = ("CUDA out of memory on GPU %s: %s requested%s"):format(r.gpu or "?",
		r.tried and gib(r.tried) or "an allocation",
		(r.free and r.total) and (", " .. gib(r.free) .. " free of " .. gib(r.total)) or "")
	if r.tried and r.total and r.tried > r.total * 0.5 then
		parts[#parts + 1] = ("A single tensor of %s is more than half the GPU (%s): batch size alone will not "
			.. "fix that. Typical culprits are full-vocabulary logits over long sequences, attention matrices "
			.. "without a memory-efficient kernel, or loading a whole model/dataset onto the GPU at once."):format(
			gib(r.tried), gib(r.total))
	end
	if r.unallocated and r.unallocated > 1024 ^ 3 * 0.5
		and (not r.allocated or r.unallocated > 0.1 * r.allocated) then
		parts[#parts + 1] = ("PyTorch holds %s reserved but unallocated: the caching allocator's memory is "
			.. "fragmented. Setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True (PyTorch 2.1+; older: "
			.. "max_split_size_mb:128) in the environment before the process starts often recovers it."):format(
			gib(r.unallocated))
	end
	local others = 0
	for _, o in ipairs(r.others) do others = others + (o.bytes or 0) end
	if r.total and r.free and r.process then
		local foreign = r.total - r.free - r.process
		if foreign > others then others = foreign end
	end
	if others > 1024 ^ 3 * 0.5 then
		local pids = {}
		for _, o in ipairs(r.others) do pids[#pids + 1] = o.pid end
		parts[#parts + 1] = ("About %s of the GPU is used by other processes%s: another notebook kernel, a "
			.. "stale training run or a server. Free it (restart that kernel, stop the process) before retrying."):format(
			gib(others), #pids > 0 and (" (pid " .. table.concat(pids, ", ") .. ")") or "")
	end
	local source = incident.source or {}
	if source.kind == "notebook" then
		parts[#parts + 1] = "In a notebook, models and tensors from earlier cells stay on the GPU: `del` them and call "
			.. "torch.cuda.empty_cache(), or restart the kernel."
	end
	parts[#parts + 1] = GENERAL
	d.explanation = table.concat(parts, " ")
	return d
end

local function tf_diagnosis(msg)
	local shape = msg:match("shape%s*%[([%d,%s]+)%]")
	local dtype = msg:match("and type (%w+)")
	local device = msg:match("device:(GPU:%d+)")
	return {
		summary = ("TensorFlow ran out of GPU memory%s"):format(shape and (" allocating a [" .. shape .. "] "
			.. (dtype or "") .. " tensor") or ""),
		explanation = ("TensorFlow could not allocate a tensor%s. %s In TensorFlow: reduce the batch size passed to "
			.. "fit()/the dataset, use tf.keras.mixed_precision.set_global_policy('mixed_float16'), and note that by "
			.. "default TensorFlow grabs nearly all GPU memory at start: tf.config.experimental.set_memory_growth(gpu, "
			.. "True) lets other processes (and a second model) share the GPU."):format(
			device and (" on " .. device) or "", "The model's activations for one batch do not fit."),
		confidence = 0.85,
		remedies = {},
	}
end

local function jax_diagnosis(msg)
	return {
		summary = "JAX/XLA ran out of GPU memory",
		explanation = "XLA could not allocate device memory. JAX preallocates 75% of the GPU at start: other "
			.. "processes on the same GPU (including a second JAX process) see little left. "
			.. "XLA_PYTHON_CLIENT_PREALLOCATE=false or XLA_PYTHON_CLIENT_MEM_FRACTION=.5 changes that; "
			.. "smaller batches and jax.checkpoint (rematerialisation) reduce what the computation needs.",
		confidence = 0.8,
		remedies = {},
	}
end

local function kind_of(incident)
	local msg = incident.message or ""
	local class = (incident.exception or ""):match("([%w_]+)$")
	if msg:find("CUDA out of memory", 1, true) then
		return "torch"
	elseif msg:find("OOM when allocating tensor", 1, true) then
		return "tf"
	elseif class == "ResourceExhaustedError" then
		-- TF 2 prints "Graph execution error:" and the OOM lines after a
		-- blank line, outside the message the traceback parser keeps.
		local rest = (incident.text or "") .. "\n" .. (incident.context or "")
		return rest:find("OOM when allocating tensor", 1, true) and "tf" or nil
	elseif msg:find("RESOURCE_EXHAUSTED: Out of memory", 1, true) then
		return "jax"
	end
	return nil
end

return {
	name = "cuda_oom",
	version = "1.0",
	description = "GPU out of memory (PyTorch, TensorFlow, JAX): what the numbers say and what to change",
	config = {},
	match = function(incident)
		return kind_of(incident) ~= nil
	end,
	diagnose = function(incident, ctx)
		local kind = kind_of(incident)
		local msg = incident.message or ""
		local d
		if kind == "torch" then
			d = torch_diagnosis(incident, msg)
		elseif kind == "tf" then
			local all = msg .. "\n" .. (incident.text or "") .. "\n" .. (incident.context or "")
			d = tf_diagnosis(all:match("(OOM when allocating tensor[^\n]*)") or msg)
		elseif kind == "jax" then
			d = jax_diagnosis(msg)
		else
			return nil
		end
		d.references = { "https://pytorch.org/docs/stable/notes/cuda.html#optimizing-memory-usage-with-pytorch-cuda-alloc-conf" }
		d.remedies[#d.remedies + 1] = {
			key = "nvidia-smi",
			title = "Show which processes use GPU memory (nvidia-smi; read-only)",
			argv = { "nvidia-smi", "--query-compute-apps=pid,process_name,used_memory", "--format=csv" },
			changes_system = false,
			timeout = 30,
		}
		return d
	end,
}
