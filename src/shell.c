/*
 * The application's shell commands: Zephyr's shell macros, which only C can expand,
 * over the Rust staticlib (rust/zephyr-ns). The command table is generated from the
 * Rust command tree (shell_commands.inc, `cargo xtask headers`); every command ends
 * in si_shell_run().
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include <zephyr/kernel.h>
#include <zephyr/shell/shell.h>

#include "secure_inference_ns.h"

#if defined(CONFIG_SECURE_INFER_DEFAULT_FORMAT_CBOR)
#define SI_DEFAULT_FORMAT 0
#elif defined(CONFIG_SECURE_INFER_DEFAULT_FORMAT_ENCRYPT0)
#define SI_DEFAULT_FORMAT 2
#else
#define SI_DEFAULT_FORMAT 1
#endif

static const struct SiConfig si_config = {
	.verify_sign = IS_ENABLED(CONFIG_NONSECURE_COSE_VERIFY_SIGN),
	.default_format = SI_DEFAULT_FORMAT,
	.infer_get_max_steps = CONFIG_NONSECURE_INFER_GET_MAX_STEPS,
	.azure_format = IS_ENABLED(CONFIG_NONSECURE_AZURE_FORMAT_ENCRYPT0) ? 2 : 1,
	.azure_period_s = CONFIG_NONSECURE_AZURE_PERIOD,
	.azure_queue = CONFIG_NONSECURE_AZURE_QUEUE,
	.azure_keep_alive_s = CONFIG_NONSECURE_AZURE_KEEP_ALIVE,
};

static void si_write(void *ctx, const char *text, size_t len)
{
	shell_fprintf((const struct shell *)ctx, SHELL_NORMAL, "%.*s", (int)len, text);
}

/* argv[0] is the command's own name; Zephyr has checked the argument count. */
static int si_run(const struct shell *sh, const char *path, size_t argc, char **argv)
{
	const struct SiShellOutput out = {.write = si_write, .ctx = (void *)sh};

	return si_shell_run(path, argc - 1, (const char *const *)&argv[1], &out, &si_config);
}

/* The Rust code's panic handler ends here: a bug, never an input. */
FUNC_NORETURN void si_rust_panic(void)
{
	k_panic();
	CODE_UNREACHABLE;
}

#include "shell_commands.inc"
