set terminal pngcairo size 820,450 noenhanced
set output 'docs/lab/batch_size.png'
set datafile separator ','
set grid
set logscale x 2
set xrange [36:1.8] reverse
set xtics (32, 16, 8, 4, 2)
set xlabel 'samples per normalization group (8 groups per step)'
set ylabel 'test error %'
set key outside right top
set title 'test error against batch size (Wu and He Fig. 1)'
plot 'docs/lab/batch_size.csv' using (strcol(1) eq 'BN' ? $2 : 1/0):($6 * 100) with linespoints lw 2 title 'BN', 'docs/lab/batch_size.csv' using (strcol(1) eq 'GN' ? $2 : 1/0):($6 * 100) with linespoints lw 2 title 'GN', 'docs/lab/batch_size.csv' using (strcol(1) eq 'LN' ? $2 : 1/0):($6 * 100) with linespoints lw 2 title 'LN', 'docs/lab/batch_size.csv' using (strcol(1) eq 'IN' ? $2 : 1/0):($6 * 100) with linespoints lw 2 title 'IN', 'docs/lab/batch_size.csv' using (strcol(1) eq 'Batch Renorm' ? $2 : 1/0):($6 * 100) with linespoints lw 2 title 'Batch Renorm'
