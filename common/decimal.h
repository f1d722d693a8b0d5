/*
 * Decimal text of unsigned integers without printf (a formatted %zu costs
 * hundreds of instructions, on every request that sends a length).
 */
#ifndef GANTRY_COMMON_DECIMAL_H
#define GANTRY_COMMON_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

#define DECIMAL_MAX 20 /* digits of UINT64_MAX */

/* Writes the digits of <v> at <buf> (DECIMAL_MAX bytes, no terminator);
 * returns how many. */
size_t decimal_format(char *buf, uint64_t v);

#endif
