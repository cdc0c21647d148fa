/*
 * loop_util.h - running a libuv loop for a while in the unit tests of
 * code that lives on the loop (the LLM client). Header-only, like tap.h.
 */
#ifndef DOCTOR_TEST_LOOP_UTIL_H
#define DOCTOR_TEST_LOOP_UTIL_H

#include <stdbool.h>
#include <uv.h>

static void loop_util_on_pause(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* Run loop l for ms milliseconds, whatever happens on it meanwhile. */
__attribute__((unused))
static void run_for(uv_loop_t *l, long ms)
{
	uv_timer_t t;
	bool over = false;

	uv_timer_init(l, &t);
	t.data = &over;
	uv_timer_start(&t, loop_util_on_pause, (uint64_t)ms, 0);
	while (!over)
		uv_run(l, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(l, UV_RUN_NOWAIT);
}

#endif
