/*
 * agent_status.c - the agent's part of `status`: whether an LLM is
 * configured and used, which, the runs in flight, and what today's
 * diagnoses have cost against the daily budget.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "agent_loop.h"
#include "doctord.h"
#include "redact.h"
#include "store.h"

json_t *agent_status(struct doctord *d)
{
	const struct llm_config *llm = &d->cfg.llm;
	double now = doctord_now(), spent = 0, in = 0, out = 0;
	bool priced = false;
	char *url = NULL;
	json_t *st;

	if (!agent_configured(d))
		return json_pack("{s:b, s:b}", "configured", 0, "enabled", 0);
	/* a base URL may carry credentials (https://user:key@host/v1) */
	if (redact_text(d->agent ? d->agent->redactor : NULL, llm->base_url,
			strlen(llm->base_url), &url, NULL, NULL) < 0)
		url = NULL;
	priced = config_llm_price(llm, llm->model, &in, &out) == 0;
	store_agent_spent(d->st, now - fmod(now, 86400.0), &spent);
	st = json_pack("{s:b, s:b, s:s?, s:s, s:b, s:b, s:i, s:f, s:f, s:b}",
		       "configured", 1, "enabled", agent_enabled(d), "base_url", url,
		       "model", llm->model, "tools", llm->tools, "stream", llm->stream,
		       "in_flight", d->agent ? (int)d->agent->nruns : 0,
		       "spent_today_usd", spent, "budget_daily_usd", d->cfg.agent.budget_daily,
		       "priced", priced);
	free(url);
	return st;
}
