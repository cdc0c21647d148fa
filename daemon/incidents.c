/*
 * incidents.c - sign, store and announce detected errors (see incidents.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "conn.h"
#include "diagnose.h"
#include "incidents.h"
#include "log.h"
#include "source.h"

int incidents_report(struct doctord *d, struct source *src, dr_error *e,
                     const char *context, struct incident_result *res)
{
	struct incident_result r = { 0 };
	store_occurrence occ = { 0 };
	char sig[17];
	json_t *summary = NULL;
	int rc;

	dr_signature(e, sig);
	occ.signature = sig;
	occ.error = dr_error_to_json(e);
	occ.source_id = src ? src->id : 0;
	occ.context = context;
	occ.at = doctord_now();
	if (!occ.error) {
		rc = -ENOMEM;
		goto out;
	}
	rc = store_record(d->st, &occ, &r.id, &r.is_new, &r.count);
	if (rc < 0) {
		log_error("store: cannot record %s incident: %s", e->exception, store_errmsg(d->st));
		goto out;
	}
	if (src)
		src->errors++;
	/* ids and kinds only: a source's name may be a command line with a
	 * token in it, and logs must not carry secrets */
	log_info("incident %lld %s: %s (source %lld, %s, count %lld)", (long long)r.id,
	         r.is_new ? "new" : "seen again", e->exception, src ? (long long)src->id : 0LL,
	         src ? src->kind : "none", (long long)r.count);
	if (d->nsubscribers > 0 && store_incident_summary(d->st, r.id, &summary) == 0)
		conn_broadcast(d, r.is_new ? "incident.new" : "incident.updated",
		               json_pack("{s:o}", "incident", summary));
	if (res)
		*res = r;
	diagnose_incident(d, src, r.id);
out:
	json_decref(occ.error);
	dr_error_free(e);
	return rc;
}
