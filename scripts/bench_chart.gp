# The service-under-flood chart of scripts/bench.sh: for each filter and
# flood level, the share of legitimate SMTP connections that succeeded
# (verified and new clients), next to the share of frames the server's ring
# dropped (above its capacity the clients' bars are overstated: the report),
# and the connect latency of the verified ones.
# gnuplot -e "datafile='latest.dat'; outfile='latest.png'; lat=N" scripts/bench_chart.gp
# (lat: how many rows have a latency; with none the right panel says so)
set terminal pngcairo size 1200,520 font "sans,10"
set output outfile
set multiplot layout 1,2 title "mailgate: legitimate SMTP connections during a spoofed SYN flood"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top right
set grid ytics
set xtics rotate by -25 scale 0
set datafile missing "NaN"

set title "connections that succeeded; frames the server's ring dropped"
set ylabel "%"
set yrange [0:120]
plot datafile using 2:xtic(1) title "verified clients" lc rgb "#2a7ab0", \
     '' using 3 title "new clients" lc rgb "#e8a33d", \
     '' using 6 title "ring drops (flood frames)" lc rgb "#888888"

set title "TCP connect latency, verified clients"
set ylabel "ms (log scale)"
set logscale y
set yrange [0.01:10000]
if (lat > 0) {
	plot datafile using 4:xtic(1) title "p50" lc rgb "#4caf50", \
	     '' using 5 title "p99" lc rgb "#c0392b"
} else {
	unset logscale y
	set yrange [0:1]
	set xrange [0:1]
	unset xtics
	set label 1 "no connection succeeded" at graph 0.5, 0.5 center
	plot NaN notitle
}
unset multiplot
