set terminal pngcairo size 1200,420 noenhanced
set output 'docs/lab/convergence.png'
set datafile separator ','
set grid
set multiplot layout 1,3
set xlabel 'training steps'
set title 'test accuracy (Ioffe and Szegedy Fig. 1a)'
set key bottom right
plot 'docs/lab/convergence.csv' using (strcol(2) eq 'none' ? $1 : 1/0):4 with lines lw 2 title 'without BN', 'docs/lab/convergence.csv' using (strcol(2) eq 'bn' ? $1 : 1/0):4 with lines lw 2 title 'with BN'
set yrange [-6.10:3.88]
set title 'sigmoid input without BN (Fig. 1b)'
set key top right
plot 'docs/lab/convergence.csv' using (strcol(2) eq 'none' ? $1 : 1/0):5:7 with filledcurves fs transparent solid 0.25 title '15th-85th percentile', 'docs/lab/convergence.csv' using (strcol(2) eq 'none' ? $1 : 1/0):6 with lines lw 2 title 'median'
set title 'sigmoid input with BN (Fig. 1c)'
set key top right
plot 'docs/lab/convergence.csv' using (strcol(2) eq 'bn' ? $1 : 1/0):5:7 with filledcurves fs transparent solid 0.25 title '15th-85th percentile', 'docs/lab/convergence.csv' using (strcol(2) eq 'bn' ? $1 : 1/0):6 with lines lw 2 title 'median'
unset multiplot
