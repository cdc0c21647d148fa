-- pip_conflicts.lua - pip's dependency conflicts.
--
-- pip prints these as plain log lines, not tracebacks, so the plugin
-- brings its own line detectors:
--   * after an install, "ERROR: pip's dependency resolver does not
--     currently take into account all the packages that are installed..."
--     followed by "X 1.0 requires Y<2, but you have Y 2.1 which is
--     incompatible." lines (the install went ahead and broke X);
--   * "ERROR: Cannot install A and B because these package versions have
--     conflicting dependencies." ... "ERROR: ResolutionImpossible" (nothing
--     was installed).
-- The diagnosis names the pairs and, when the requirements on a package
-- can be read, offers to install a version that satisfies them.

local SPEC = "^[%w][%w._-]*[<>=!~][%w.*,<>=!~+-]*$"

local function trim(s)
	return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- s split around the first plain occurrence of sep, or nil.
local function cut(s, sep)
	local i, j = s:find(sep, 1, true)
	if not i then
		return nil
	end
	return s:sub(1, i - 1), s:sub(j + 1)
end

-- "name version" -> name, version (narrow patterns only: the host bounds
-- the cost of patterns, and lines can be long).
local function name_version(s)
	return s:match("^([%w][%w._-]*) ([%w.!+_-]+)$")
end

-- One "X 1.0 requires Y<2, but you have Y 2.1 which is incompatible." line
-- (or pip 20's "ERROR: X 1.0 has requirement Y<2, but you'll have Y 2.1
-- which is incompatible."), or "X 1.0 requires Y, which is not installed.".
local function conflict_of(text)
	local legacy = text:sub(1, 7) == "ERROR: " and text:find(" has requirement ", 1, true) ~= nil
	local left, rest = cut(legacy and text:sub(8) or text, legacy and " has requirement " or " requires ")
	if not left then
		return nil
	end
	local pkg, ver = name_version(left)
	if not pkg then
		return nil
	end
	local req, have = cut(rest, legacy and ", but you'll have " or ", but you have ")
	if req then
		local have_name, have_rest = cut(have, " ")
		local have_ver = have_rest and cut(have_rest, " which is incompatible")
		if have_ver and have_name:match("^[%w][%w._-]*$") and have_ver:match("^[%w.!+_-]+$") then
			return { package = pkg, version = ver, requirement = req, have = have_name, have_version = have_ver }
		end
		return nil
	end
	req = cut(rest, ", which is not installed.")
	if req and req ~= "" then
		return { package = pkg, version = ver, requirement = req, missing = true }
	end
	return nil
end

local function resolver_error(state)
	local lines = {}
	for _, c in ipairs(state.conflicts) do
		lines[#lines + 1] = c.missing and (c.package .. " " .. c.version .. " requires " .. c.requirement .. ", which is not installed")
			or (c.package .. " " .. c.version .. " requires " .. c.requirement .. ", but " .. c.have .. " " .. c.have_version .. " is installed")
	end
	return {
		exception = "PipDependencyConflict",
		message = table.concat(lines, "\n"),
		extra = { kind = "installed", conflicts = state.conflicts },
	}
end

-- Detector: the post-install conflict report.
local function resolver_line(state, text)
	if text:find("^ERROR: pip's dependency resolver does not currently take into account") then
		state.conflicts = {}
		return true
	end
	if not state.conflicts then
		local c = text:match("^ERROR: ") and conflict_of(text)
		if c then -- pip 20.2's one-line form
			return { exception = "PipDependencyConflict", message = text:gsub("^ERROR: ", ""),
				extra = { kind = "installed", conflicts = { c } } }
		end
		return nil
	end
	local c = conflict_of(text)
	if c then
		state.conflicts[#state.conflicts + 1] = c
		return true
	end
	local done = state.conflicts
	state.conflicts = nil
	if #done == 0 then
		return nil
	end
	return resolver_error({ conflicts = done })
end

local function resolver_flush(state)
	local done = state.conflicts
	state.conflicts = nil
	if done and #done > 0 then
		return resolver_error({ conflicts = done })
	end
	return nil
end

-- Detector: ResolutionImpossible, from "Cannot install ..." to the final ERROR line.
local function impossible_line(state, text)
	local what = text:match("^ERROR: Cannot install (.-) because these package versions have conflicting dependencies")
	if what then
		state.block = { what = what, causes = {} }
		return true
	end
	if not state.block then
		return nil
	end
	if text:find("^ERROR: ResolutionImpossible") then
		local b = state.block
		state.block = nil
		return {
			exception = "PipResolutionImpossible",
			message = "Cannot install " .. b.what .. " because these package versions have conflicting dependencies",
			extra = { kind = "impossible", requested = b.what, causes = b.causes },
		}
	end
	if state.in_causes and text:match("^%s+%S") then
		state.block.causes[#state.block.causes + 1] = trim(text)
	end
	if text:find("^The conflict is caused by:") then
		state.in_causes = true
	elseif text:match("^%S") then
		state.in_causes = false
	end
	if #state.block.causes > 50 then
		state.block = nil
		return nil
	end
	return true
end

local function impossible_flush(state)
	state.block = nil
	return nil
end

-- The requirements the conflicts put on each installed package:
-- { name = { specs = {"<2", ">=1.23"}, have = "2.1", by = {"tensorflow 2.15.0"} } }.
local function requirements(conflicts)
	local by_name, order = {}, {}
	for _, c in ipairs(conflicts or {}) do
		local name, spec = (c.requirement or ""):match("^([%w][%w._-]*)%s*(.*)$")
		if name and not c.missing then
			local key = doctor.normalize_dist(name)
			if not by_name[key] then
				by_name[key] = { name = name, specs = {}, have = c.have_version, by = {} }
				order[#order + 1] = key
			end
			local entry = by_name[key]
			entry.by[#entry.by + 1] = c.package .. " " .. c.version
			spec = spec:gsub("%s", ""):gsub(";.*$", ""):gsub("^%[[^%]]*%]", "")
			if spec ~= "" then
				entry.specs[#entry.specs + 1] = spec
			end
		end
	end
	return by_name, order
end

-- Compare dotted versions numerically: -1, 0, 1 (pre-release tags ignored).
local function vcmp(a, b)
	local x, y = {}, {}
	for n in a:gmatch("%d+") do x[#x + 1] = tonumber(n) end
	for n in b:gmatch("%d+") do y[#y + 1] = tonumber(n) end
	for i = 1, math.max(#x, #y) do
		local p, q = x[i] or 0, y[i] or 0
		if p ~= q then return p < q and -1 or 1 end
	end
	return 0
end

-- True when no version can satisfy all the specs ("<3.20" and ">=3.20.2").
local function contradictory(specs)
	local low, low_strict, high, high_strict
	for _, group in ipairs(specs) do
		for op, v in group:gmatch("([<>=!~]+)([%w.*+]+)") do
			if op == ">=" or op == ">" or op == "==" or op == "~=" then
				if not low or vcmp(v, low) > 0 then low, low_strict = v, op == ">" end
			end
			if op == "<=" or op == "<" or op == "==" then
				if not high or vcmp(v, high) < 0 then high, high_strict = v, op == "<" end
			end
		end
	end
	if not low or not high then
		return false
	end
	local c = vcmp(low, high)
	return c > 0 or (c == 0 and (low_strict or high_strict))
end

local function diagnose_installed(incident, ctx)
	local conflicts = (incident.extra and incident.extra.conflicts) or {}
	local python = ctx.python or "python3"
	local by_name, order = requirements(conflicts)
	local pairs_text = {}
	for _, c in ipairs(conflicts) do
		pairs_text[#pairs_text + 1] = c.missing and (c.package .. " " .. c.version .. " needs " .. c.requirement .. " (not installed)")
			or (c.package .. " " .. c.version .. " needs " .. c.requirement .. " but " .. c.have .. " " .. c.have_version .. " is installed")
	end
	local d = {
		summary = "pip installed packages that break others: " .. table.concat(pairs_text, "; "),
		explanation = "The install finished, but pip's resolver only checks what it installs, not everything already in "
			.. "the environment: the packages above now sit next to versions they do not support and may fail at "
			.. "import or, worse, misbehave. Either go back to versions they accept (the remedy below) or upgrade the "
			.. "packages that complain to releases that support the new versions. `pip check` lists what is still broken.",
		confidence = 0.85,
		remedies = {},
	}
	for _, key in ipairs(order) do
		local e = by_name[key]
		local req = e.name .. table.concat(e.specs, ",")
		if contradictory(e.specs) then
			d.explanation = d.explanation .. (" No version of %s satisfies both %s (%s): downgrading cannot fix "
				.. "this; upgrade (or remove) one of them so their requirements overlap."):format(
				e.name, table.concat(e.by, " and "), table.concat(e.specs, " vs "))
		elseif #e.specs > 0 and req:match(SPEC) then
			d.remedies[#d.remedies + 1] = {
				key = "pip-install-compatible-" .. key,
				title = ("Install %s (required by %s; %s %s installed now) into %s"):format(
					req, table.concat(e.by, ", "), e.name, e.have or "?", python),
				argv = { python, "-m", "pip", "install", req },
				changes_system = true,
				verify = { python, "-m", "pip", "check" },
				timeout = 900,
				undo = "pip",
			}
		end
	end
	for _, c in ipairs(conflicts) do
		local name = c.missing and (c.requirement or ""):match("^([%w][%w._-]*)")
		if name then
			d.remedies[#d.remedies + 1] = {
				key = "pip-install-missing-" .. doctor.normalize_dist(name),
				title = ("Install %s (required by %s %s) into %s"):format(c.requirement, c.package, c.version, python),
				argv = { python, "-m", "pip", "install", c.requirement },
				changes_system = true,
				verify = { python, "-m", "pip", "check" },
				timeout = 900,
				undo = "pip",
			}
		end
	end
	if not ctx.python then
		d.explanation = d.explanation .. " The source did not say which Python ran pip; the remedies use `python3`."
		d.confidence = 0.65
	end
	return d
end

local function diagnose_impossible(incident, ctx)
	local e = incident.extra or {}
	local causes = e.causes or {}
	local d = {
		summary = "pip cannot satisfy the requested versions together: " .. (e.requested or "conflicting requirements"),
		explanation = "Nothing was installed. The requirements contradict each other: " .. table.concat(causes, "; ")
			.. ". Loosen the pins involved (an exact `==` pin in requirements.txt is the usual cause) or pick versions "
			.. "of the packages that agree; `pip install --dry-run` tries a combination without installing it.",
		confidence = 0.8,
		remedies = {},
	}
	for _, cause in ipairs(causes) do
		local req = cause:match("^The user requested (%S+)$")
		if req then
			d.explanation = d.explanation .. (" You asked for %s yourself: that pin is the first one to question."):format(req)
			break
		end
	end
	return d
end

return {
	name = "pip.conflicts",
	version = "1.0",
	description = "pip dependency conflicts (post-install resolver warnings and ResolutionImpossible)",
	config = {},
	detect = {
		{ name = "resolver_conflict", line = resolver_line, flush = resolver_flush },
		{ name = "resolution_impossible", line = impossible_line, flush = impossible_flush },
	},
	match = { exception = { "PipDependencyConflict", "PipResolutionImpossible" } },
	diagnose = function(incident, ctx)
		if incident.exception == "PipDependencyConflict" then
			return diagnose_installed(incident, ctx)
		end
		return diagnose_impossible(incident, ctx)
	end,
}
