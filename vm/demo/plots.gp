# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# vm/demo/plots.gp - the demo's plots, from the data files vm/demo/report.sh writes.
# Variables (gnuplot -e): out, data (directories), term (a terminal with its options),
# ext (png or svg), killx, drainx (seconds since the traffic started; -1: none), killnode,
# dur (seconds of traffic), warmx (the first second's, when its p99 stands out; -1: not).

set datafile missing "nan"
set datafile separator whitespace
set grid ytics lc rgb "#dddddd"
set border 3
set tics nomirror
set key below horizontal reverse Left samplen 3 spacing 1.1	# the line, then its name
set offsets 0, 0, graph 0.16, 0	# room for the labels of the kill
set xlabel "seconds since the cameras started"
set xrange [0:dur + 0.5]

c1 = "#1f77b4"; c2 = "#ff7f0e"; c3 = "#2ca02c"; c4 = "#9467bd"; red = "#d62728"
c1p = "#6baed6"; c2p = "#fdae6b"; c3p = "#74c476"	# lighter: the p50 lines

# The kill and the drain: a dashed red line, and a dotted one with their labels.
if (killx >= 0) {
	set arrow 1 from killx, graph 0 to killx, graph 1 nohead dt 2 lw 1.5 lc rgb red front
	set label 1 sprintf("%s killed", killnode) at killx, graph 0.97 offset 0.6, 0 tc rgb red front
}
if (drainx >= 0) {
	set arrow 2 from drainx, graph 0 to drainx, graph 1 nohead dt 3 lw 1 lc rgb "#888888" front
	set label 2 sprintf("drained after %d ms", int((drainx - killx) * 1000 + 0.5)) \
		at drainx, graph 0.915 offset 0.6, 0 tc rgb "#555555" front
}

eval "set terminal " . term

# 1. Throughput per camera, and failures.
set output out . "/throughput." . ext
set title "Frames answered per second, per camera (open loop; failures as red bars)"
set ylabel "tasks/s"
set yrange [0:*]
plot data . "/cam1.dat" using 1:2 with linespoints pt 7 ps 0.5 lw 2 lc rgb c1 title "cam1 inspection line (prio 5)", \
     data . "/cam2.dat" using 1:2 with linespoints pt 7 ps 0.5 lw 2 lc rgb c2 title "cam2 surface check (prio 3)", \
     data . "/cam3.dat" using 1:2 with linespoints pt 7 ps 0.5 lw 2 lc rgb c3 title "cam3 label reader (prio 1)", \
     "< cat " . data . "/cam1.dat " . data . "/cam2.dat " . data . "/cam3.dat" \
        using 1:($3 > 0 ? $3 : 1/0) with impulses lw 4 lc rgb red title "failed"

# 2. Latency per camera: p50 and p99 of the tasks answered in each second; whole seconds
# only (report.sh leaves out the partial ones). p99 solid with dots, p50 dashed and
# lighter, each camera in its colour; the key has a column per camera, p99 above p50.
set output out . "/latency." . ext
set title "Round trip at the cameras per second: p99 (solid) and p50 (dashed); from the scheduled send, retries included"
set ylabel "ms (log scale)"
set logscale y
set yrange [*:*]
if (warmx >= 0) {
	set label 3 "new session keys: first datagrams dropped until synced, resent" \
		at warmx, graph 0.97 offset 1, 0 tc rgb "#555555" front
	set label 4 "after the client's first timeout (200 ms before it has measured)" \
		at warmx, graph 0.915 offset 1, 0 tc rgb "#555555" front
}
set key maxrows 2
plot data . "/cam1.dat" using 1:5 with linespoints pt 7 ps 0.45 lw 2 lc rgb c1 title "cam1 p99", \
     data . "/cam1.dat" using 1:4 with lines lw 2 dt (10, 6) lc rgb c1p title "cam1 p50", \
     data . "/cam2.dat" using 1:5 with linespoints pt 7 ps 0.45 lw 2 lc rgb c2 title "cam2 p99", \
     data . "/cam2.dat" using 1:4 with lines lw 2 dt (10, 6) lc rgb c2p title "cam2 p50", \
     data . "/cam3.dat" using 1:5 with linespoints pt 7 ps 0.45 lw 2 lc rgb c3 title "cam3 p99", \
     data . "/cam3.dat" using 1:4 with lines lw 2 dt (10, 6) lc rgb c3p title "cam3 p50"
set key maxrows auto
unset label 3; unset label 4
unset logscale y

# 3. Tasks per node per second at the gateway, stacked.
set output out . "/nodes." . ext
set title "Tasks the gateway's XDP sent each node per second (stacked; edgectl stats --watch 1)"
set ylabel "tasks/s"
set yrange [0:*]
plot data . "/nodes.dat" using 1:9:8 with filledcurves fs solid 0.6 noborder lc rgb c4 title "cloud (overflow)", \
     data . "/nodes.dat" using 1:8:7 with filledcurves fs solid 0.6 noborder lc rgb c3 title "w3 (capacity 400)", \
     data . "/nodes.dat" using 1:7:6 with filledcurves fs solid 0.6 noborder lc rgb c2 title "w2 (capacity 200)", \
     data . "/nodes.dat" using 1:6:(0) with filledcurves fs solid 0.6 noborder lc rgb c1 title "w1 (capacity 100)"

# 4. Shares of the tasks, before and after the kill, against capacity.
unset arrow 1; unset arrow 2; unset label 1; unset label 2
set output out . "/shares." . ext
set title (killx >= 0 ? sprintf("Each worker's share of the tasks: by capacity, before and after %s was killed", killnode) \
                      : "Each worker's share of the tasks, by capacity and as sent")
set xlabel ""
set ylabel "% of tasks"
set xrange [*:*]
set yrange [0:100]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.7 border -1
set boxwidth 0.9
set offsets 0, 0, 0, 0
plot data . "/shares.dat" using 2:xtic(1) lc rgb "#aaaaaa" title "capacity share", \
     "" using 3 lc rgb c1 title (killx >= 0 ? "share before the kill" : "share"), \
     "" using ($4 > 0 ? $4 : 0) lc rgb c2 title (killx >= 0 ? "share after the kill" : "")

# 5. Bytes per camera: frames, compressed, on the wire with retries.
set output out . "/bytes." . ext
set title "Bytes per camera: the frames, zstd-compressed, and sent with retries"
set ylabel "MB"
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0
plot data . "/bytes.dat" using 2:xtic(1) lc rgb "#aaaaaa" title "frames (raw)", \
     "" using 3 lc rgb c1 title "compressed", \
     "" using 4 lc rgb c2 title "sent, with retries"
set output
