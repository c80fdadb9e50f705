/*
 * secure-inference, non-secure side. Zephyr's shell runs the application's commands
 * (registered in shell.c); main only announces them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include <zephyr/kernel.h>

int main(void)
{
	printk("secure-inference %s: commands info, keys, infer (type 'help')\n", SI_VERSION);
	return 0;
}
