/*
 * C23's fminimum_num and fmaximum_num, which the picolibc of Zephyr 4.0 does not have:
 * rustc (1.96 and later) lowers f64::min/max and f32::min/max to them where the FPU
 * is off, as on this board. Weak, so that a C library that has them wins.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include <math.h>

/* The number of the two if one is NaN; -0 below +0 (C23 7.12.12.8). */
__attribute__((weak)) double fminimum_num(double x, double y)
{
	if (isnan(x)) {
		return isnan(y) ? x + y : y;
	}
	if (isnan(y) || x < y) {
		return x;
	}
	if (x == y) {
		return signbit(x) ? x : y;
	}
	return y;
}

__attribute__((weak)) double fmaximum_num(double x, double y)
{
	if (isnan(x)) {
		return isnan(y) ? x + y : y;
	}
	if (isnan(y) || x > y) {
		return x;
	}
	if (x == y) {
		return signbit(x) ? y : x;
	}
	return y;
}

__attribute__((weak)) float fminimum_numf(float x, float y)
{
	if (isnan(x)) {
		return isnan(y) ? x + y : y;
	}
	if (isnan(y) || x < y) {
		return x;
	}
	if (x == y) {
		return signbit(x) ? x : y;
	}
	return y;
}

__attribute__((weak)) float fmaximum_numf(float x, float y)
{
	if (isnan(x)) {
		return isnan(y) ? x + y : y;
	}
	if (isnan(y) || x > y) {
		return x;
	}
	if (x == y) {
		return signbit(x) ? y : x;
	}
	return y;
}
