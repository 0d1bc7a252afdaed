// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* edgeload - offload tasks to an edgeplane edge node: one-shot or as a load generator. */
#include <stdio.h>
#include <string.h>

#include "edgeload.h"
#include "edgeplane/log.h"

int main(int argc, char **argv)
{
	ep_log_set_ident("edgeload");
	if (argc < 2)
		return edgeload_no_command(argc, argv);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "load"))
		return cmd_load(argc - 1, argv + 1);
	if (!strcmp(argv[1], "limits"))
		return cmd_limits(argc - 1, argv + 1);
	return edgeload_no_command(argc, argv);
}
