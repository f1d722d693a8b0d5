/* Deadlines of any length (see deadline.h). */
#include "deadline.h"

static void arm(struct deadline *d);

static void on_hop(h2o_timeout_entry_t *entry)
{
    arm(H2O_STRUCT_FROM_MEMBER(struct deadline, entry, entry));
}

static void arm(struct deadline *d)
{
    int64_t left = d->at_ms - worker_now_ms(d->w);
    if (left <= 0) {
        d->cb(d);
        return;
    }
    unsigned k = 0;
    while (k + 1 < DEADLINE_LISTS && (1ll << (k + 1)) <= left)
        k++;
    d->entry.cb = on_hop;
    /* a list joins the loop on first use: the loop walks every list it has
     * twice an iteration, ~50 instructions each, used or not */
    if (!(d->w->deadline_lists_live & (1u << k))) {
        h2o_timeout_init(d->w->loop, &d->w->deadline_lists[k], 1ull << k);
        d->w->deadline_lists_live |= 1u << k;
    }
    h2o_timeout_link(d->w->loop, &d->w->deadline_lists[k], &d->entry);
}

void deadline_worker_init(struct worker *w)
{
    w->deadline_lists_live = 0;
}

void deadline_worker_dispose(struct worker *w)
{
    for (unsigned k = 0; k < DEADLINE_LISTS; k++)
        if (w->deadline_lists_live & (1u << k))
            h2o_timeout_dispose(w->loop, &w->deadline_lists[k]);
    w->deadline_lists_live = 0;
}

void deadline_set(struct deadline *d, struct worker *w, uint64_t ms, void (*cb)(struct deadline *d))
{
    deadline_clear(d);
    d->w = w;
    d->cb = cb;
    d->at_ms = worker_now_ms(w) + (int64_t)ms;
    arm(d);
}

void deadline_clear(struct deadline *d)
{
    if (h2o_timeout_is_linked(&d->entry))
        h2o_timeout_unlink(&d->entry);
}
