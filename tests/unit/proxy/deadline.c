/* Tests proxy/deadline.c: deadlines of any length on power-of-two lists. */
#include "../../../proxy/deadline.c"

#include "test.h"

static int fired;
static int64_t fired_at;

static void on_fire(struct deadline *d)
{
    fired++;
    fired_at = worker_now_ms(d->w);
}

static void run_until_fired(struct worker *w, int want)
{
    for (int i = 0; i < 10000 && fired < want; i++)
        h2o_evloop_run(w->loop, 5);
}

int main(void)
{
    struct worker w;
    memset(&w, 0, sizeof(w));
    w.loop = h2o_evloop_create();
    deadline_worker_init(&w);

    /* an odd length takes several hops, never fires early, and not much late */
    struct deadline d = {0};
    int64_t t0 = worker_now_ms(&w);
    deadline_set(&d, &w, 37, on_fire);
    run_until_fired(&w, 1);
    CHECK(fired == 1);
    CHECK(fired_at - t0 >= 37);
    CHECK(fired_at - t0 < 37 + 30);

    /* zero: at once, from deadline_set */
    deadline_set(&d, &w, 0, on_fire);
    CHECK(fired == 2);

    /* cleared: never fires */
    deadline_set(&d, &w, 10, on_fire);
    deadline_clear(&d);
    int64_t t1 = worker_now_ms(&w);
    while (worker_now_ms(&w) - t1 < 30)
        h2o_evloop_run(w.loop, 5);
    CHECK(fired == 2);

    /* set again while linked: the new deadline replaces the old one */
    deadline_set(&d, &w, 500, on_fire);
    deadline_set(&d, &w, 5, on_fire);
    t1 = worker_now_ms(&w);
    run_until_fired(&w, 3);
    CHECK(fired == 3 && fired_at - t1 < 100);

    deadline_worker_dispose(&w);
    h2o_evloop_destroy(w.loop);
    return test_report("proxy/deadline");
}
