/*
 * libFuzzer target: router rules and Docker constraint expressions
 * (common/rule.c), and TCP router rules. Any text must parse or fail with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct arena a;
    arena_init(&a);
    struct diag d;
    if (rule_parse(&a, text, &d) == NULL && d.msg[0] == '\0')
        abort(); /* a failure always says why */
    if (rule_parse_constraint(&a, text, &d) == NULL && d.msg[0] == '\0')
        abort();
    if (rule_parse_tcp(&a, text, &d) == NULL && d.msg[0] == '\0')
        abort();
    (void)rule_default_priority(text);
    arena_free(&a);
    free(text);
    return 0;
}
