/*
 * swar.h - constants for byte-parallel tests on 64-bit words ("SIMD within
 * a register"), shared by the lower-casing of header names (record.c) and
 * the JSON escaper's portable path (format.c).
 */
#ifndef HT_BASE_SWAR_H
#define HT_BASE_SWAR_H

#define ONES 0x0101010101010101ull  /* 0x01 in every byte: ONES * c repeats c */
#define HIGHS 0x8080808080808080ull /* each byte's high bit */

#endif /* HT_BASE_SWAR_H */
