// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* edgeload - offload tasks to an edgeplane edge node: one-shot or as a load generator. */
#include <stdio.h>
#include <string.h>

#include "edgeload.h"
#include "edgeplane/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: edgeload run  --to ADDR --type TYPE [--in FILE] [--out FILE] [OPTIONS]\n"
		"       edgeload load --to ADDR (--type TYPE [--in FILE | --size N] | --mix "
		"SPECS)\n"
		"                     [--concurrency N] [--rate N] [--duration 10s | --count N]\n"
		"                     [--timeline FILE] [--json]\n"
		"       edgeload limits --to ADDR [--json]\n"
		"\n"
		"run: send one task and write its result (images as PNG, blobs as a list).\n"
		"limits: ask the node its limits (a PING; the PONG carries them) and print them.\n"
		"load: keep --concurrency tasks outstanding (closed loop), or start --rate tasks "
		"a\n"
		"      second (open loop; --concurrency caps what is outstanding), and print a\n"
		"      summary. --mix 'SPEC;SPEC' mixes kinds, each SPEC being\n"
		"      TYPE[,size=N][,in=FILE][,prio=1-5][,weight=N]; e.g.\n"
		"      --mix 'echo,size=64,prio=5,weight=3;blobs,in=coins.png,prio=2'\n"
		"      --timeline FILE writes a line per second: time since the start, Unix time,\n"
		"      kind (\"total\", and each kind of a mix), tasks sent, completed and failed\n"
		"      in that second, p50 and p99 latency (us) of those completed (nan: none).\n"
		"\n"
		"Session:  --to HOST[:PORT] (IPv4, [IPv6], name) --port N (7878) --mtu N (1500) "
		"--tenant ID\n"
		"          --timeout-ms N (200, doubles per retry) --attempts N (5)\n"
		"          --zstd-level N (3; 0 = never compress) --no-compress\n"
		"          --frame-codec K (frames of --type in the frame codec, each pixel\n"
		"          within +-K, 0 = lossless; K at most the edge's max_error for the type)\n"
		"          --reply-mtu N (the node fragments results to fit N bytes, >= 576)\n"
		"          --plain-reply (ask for results uncompressed)\n"
		"Auth:     --enroll ADDR:PORT --cert FILE --key FILE --ca FILE (enroll with the\n"
		"          controller: the device's certificate and key, the controller's CA)\n"
		"          or --auth-key FILE (a static key: one key object, mode 0600)\n"
		"Task:     --prio 1-5 (3) --deadline-ms N --size-hint-kib N\n"
		"Images:   --in FILE.png  --level N (-1 = Otsu) --invert  --radius N  --sigma F\n"
		"          --width N --height N  --min-area N --dark --blur --conn8 --reference\n"
		"          --no-border (blobs: ignore blobs touching the frame's edge)\n"
		"Other:    --size N (generated payload)  --task-zstd-level N  --n --k --m  --seed "
		"N\n"
		"\n");
	task_kinds_usage(f);
	fprintf(f, "\nExit status: 0 all tasks succeeded, 1 a task failed, 2 bad usage.\n");
}

int main(int argc, char **argv)
{
	ep_log_set_ident("edgeload");
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "load"))
		return cmd_load(argc - 1, argv + 1);
	if (!strcmp(argv[1], "limits"))
		return cmd_limits(argc - 1, argv + 1);
	pr_err("unknown command '%s' (run, load or limits; try --help)", argv[1]);
	return 2;
}
