set terminal pngcairo size 1100,450 noenhanced
set output 'docs/bench/epyc-zen5/sweep.png'
set datafile separator ','
set grid
set logscale x 2
set format x '%.0s%cB'
set key bottom right
set yrange [0:*]
set xlabel 'bytes read + written (minimum)'
set ylabel 'effective GB/s'
set multiplot layout 1,2
set title 'BatchNorm train fwd NCHW, 2 threads'
plot 'docs/bench/epyc-zen5/sweep.csv' using ((strcol(1) eq 'BatchNorm train fwd NCHW' && strcol(3) eq 'copy') ? $2 : 1/0):5 smooth unique title 'copy bandwidth at that size' with lines dashtype 2 lc rgb 'black', 'docs/bench/epyc-zen5/sweep.csv' using ((strcol(1) eq 'BatchNorm train fwd NCHW' && strcol(3) eq 'normkit') ? $2 : 1/0):5 smooth unique title 'normkit' with linespoints, 'docs/bench/epyc-zen5/sweep.csv' using ((strcol(1) eq 'BatchNorm train fwd NCHW' && strcol(3) eq 'ggml-0.15.3') ? $2 : 1/0):5 smooth unique title 'ggml-0.15.3' with linespoints, 'docs/bench/epyc-zen5/sweep.csv' using ((strcol(1) eq 'BatchNorm train fwd NCHW' && strcol(3) eq 'onednn-2.6') ? $2 : 1/0):5 smooth unique title 'onednn-2.6' with linespoints, 'docs/bench/epyc-zen5/sweep.csv' using ((strcol(1) eq 'BatchNorm train fwd NCHW' && strcol(3) eq 'torch-1.13.0') ? $2 : 1/0):5 smooth unique title 'torch-1.13.0' with linespoints
set title 'LayerNorm fwd, 2 threads'
plot 'docs/bench/epyc-zen5/sweep.csv' using ((strcol(1) eq 'LayerNorm fwd' && strcol(3) eq 'copy') ? $2 : 1/0):5 smooth unique title 'copy bandwidth at that size' with lines dashtype 2 lc rgb 'black', 'docs/bench/epyc-zen5/sweep.csv' using ((strcol(1) eq 'LayerNorm fwd' && strcol(3) eq 'normkit') ? $2 : 1/0):5 smooth unique title 'normkit' with linespoints, 'docs/bench/epyc-zen5/sweep.csv' using ((strcol(1) eq 'LayerNorm fwd' && strcol(3) eq 'ggml-0.15.3') ? $2 : 1/0):5 smooth unique title 'ggml-0.15.3' with linespoints, 'docs/bench/epyc-zen5/sweep.csv' using ((strcol(1) eq 'LayerNorm fwd' && strcol(3) eq 'onednn-2.6') ? $2 : 1/0):5 smooth unique title 'onednn-2.6' with linespoints, 'docs/bench/epyc-zen5/sweep.csv' using ((strcol(1) eq 'LayerNorm fwd' && strcol(3) eq 'torch-1.13.0') ? $2 : 1/0):5 smooth unique title 'torch-1.13.0' with linespoints
unset multiplot
