set terminal pngcairo size 1150,440 noenhanced
set output 'docs/lab/sync/sync.png'
set datafile separator ','
set grid
set multiplot layout 1,2
set xlabel 'training steps'
set ylabel 'test accuracy'
set key bottom right
set title 'mlp, 4 ranks x 2 samples'
plot 'docs/lab/sync/sync.csv' using (strcol(1) eq 'mlp' && strcol(2) eq 'per-rank BN' ? $3 : 1/0):($14 * 1):($15 * 1) with filledcurves fs transparent solid 0.2 noborder lc 1 notitle, 'docs/lab/sync/sync.csv' using (strcol(1) eq 'mlp' && strcol(2) eq 'per-rank BN' ? $3 : 1/0):($5 * 1) with linespoints lw 2 pt 7 ps 0.5 lc 1 title 'per-rank BN', 'docs/lab/sync/sync.csv' using (strcol(1) eq 'mlp' && strcol(2) eq 'SyncBN' ? $3 : 1/0):($14 * 1):($15 * 1) with filledcurves fs transparent solid 0.2 noborder lc 2 notitle, 'docs/lab/sync/sync.csv' using (strcol(1) eq 'mlp' && strcol(2) eq 'SyncBN' ? $3 : 1/0):($5 * 1) with linespoints lw 2 pt 7 ps 0.5 lc 2 title 'SyncBN', 'docs/lab/sync/sync.csv' using (strcol(1) eq 'mlp' && strcol(2) eq 'GroupNorm' ? $3 : 1/0):($14 * 1):($15 * 1) with filledcurves fs transparent solid 0.2 noborder lc 3 notitle, 'docs/lab/sync/sync.csv' using (strcol(1) eq 'mlp' && strcol(2) eq 'GroupNorm' ? $3 : 1/0):($5 * 1) with linespoints lw 2 pt 7 ps 0.5 lc 3 title 'GroupNorm'
set title 'cnn, 4 ranks x 2 samples'
plot 'docs/lab/sync/sync.csv' using (strcol(1) eq 'cnn' && strcol(2) eq 'per-rank BN' ? $3 : 1/0):($14 * 1):($15 * 1) with filledcurves fs transparent solid 0.2 noborder lc 1 notitle, 'docs/lab/sync/sync.csv' using (strcol(1) eq 'cnn' && strcol(2) eq 'per-rank BN' ? $3 : 1/0):($5 * 1) with linespoints lw 2 pt 7 ps 0.5 lc 1 title 'per-rank BN', 'docs/lab/sync/sync.csv' using (strcol(1) eq 'cnn' && strcol(2) eq 'SyncBN' ? $3 : 1/0):($14 * 1):($15 * 1) with filledcurves fs transparent solid 0.2 noborder lc 2 notitle, 'docs/lab/sync/sync.csv' using (strcol(1) eq 'cnn' && strcol(2) eq 'SyncBN' ? $3 : 1/0):($5 * 1) with linespoints lw 2 pt 7 ps 0.5 lc 2 title 'SyncBN', 'docs/lab/sync/sync.csv' using (strcol(1) eq 'cnn' && strcol(2) eq 'GroupNorm' ? $3 : 1/0):($14 * 1):($15 * 1) with filledcurves fs transparent solid 0.2 noborder lc 3 notitle, 'docs/lab/sync/sync.csv' using (strcol(1) eq 'cnn' && strcol(2) eq 'GroupNorm' ? $3 : 1/0):($5 * 1) with linespoints lw 2 pt 7 ps 0.5 lc 3 title 'GroupNorm'
unset multiplot
