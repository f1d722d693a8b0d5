/* Tests controller/compile_reuse.c: a pointer maps to what was put for it
 * (the last value wins), an absent pointer (or an empty map) gives NULL,
 * and growth keeps every entry. */
#include "../../../controller/compile_reuse.c"

#include "test.h"

int main(void)
{
    struct compile_reuse r = {0};
    static char objs[5000];
    CHECK(compile_reuse_get(&r, &objs[0]) == NULL);
    for (size_t i = 0; i < 4000; i++)
        compile_reuse_put(&r, &objs[i], &objs[i + 1]);
    CHECK(r.n == 4000 && r.cap >= 8000);
    size_t right = 0;
    for (size_t i = 0; i < 4000; i++)
        right += compile_reuse_get(&r, &objs[i]) == &objs[i + 1];
    CHECK(right == 4000);
    CHECK(compile_reuse_get(&r, &objs[4000]) == NULL && compile_reuse_get(&r, &objs[4999]) == NULL);
    compile_reuse_put(&r, &objs[7], &objs[100]);
    CHECK(r.n == 4000 && compile_reuse_get(&r, &objs[7]) == &objs[100]);
    compile_reuse_free(&r);
    CHECK(r.n == 0 && compile_reuse_get(&r, &objs[7]) == NULL);
    return test_report("controller/compile_reuse");
}
