set terminal pngcairo size 1200,840 noenhanced
set output 'docs/lab/convergence.png'
set datafile separator ','
set grid
set multiplot layout 2,2
set xlabel 'training steps'
set title 'MLP test accuracy (Ioffe and Szegedy Fig. 1a)'
set key bottom right
plot 'docs/lab/convergence.csv' using (strcol(2) eq 'none' ? $1 : 1/0):($14 * 1):($15 * 1) with filledcurves fs transparent solid 0.2 noborder lc 1 notitle, 'docs/lab/convergence.csv' using (strcol(2) eq 'none' ? $1 : 1/0):($4 * 1) with linespoints lw 2 pt 7 ps 0.5 lc 1 title 'without BN', 'docs/lab/convergence.csv' using (strcol(2) eq 'bn' ? $1 : 1/0):($14 * 1):($15 * 1) with filledcurves fs transparent solid 0.2 noborder lc 2 notitle, 'docs/lab/convergence.csv' using (strcol(2) eq 'bn' ? $1 : 1/0):($4 * 1) with linespoints lw 2 pt 7 ps 0.5 lc 2 title 'with BN'
set title 'VGG-8 test accuracy'
plot 'docs/lab/convergence_vgg.csv' using (strcol(2) eq 'none' ? $1 : 1/0):($11 * 1):($12 * 1) with filledcurves fs transparent solid 0.2 noborder lc 1 notitle, 'docs/lab/convergence_vgg.csv' using (strcol(2) eq 'none' ? $1 : 1/0):($4 * 1) with linespoints lw 2 pt 7 ps 0.5 lc 1 title 'without BN', 'docs/lab/convergence_vgg.csv' using (strcol(2) eq 'bn' ? $1 : 1/0):($11 * 1):($12 * 1) with filledcurves fs transparent solid 0.2 noborder lc 2 notitle, 'docs/lab/convergence_vgg.csv' using (strcol(2) eq 'bn' ? $1 : 1/0):($4 * 1) with linespoints lw 2 pt 7 ps 0.5 lc 2 title 'with BN'
set yrange [-6.10:3.88]
set title 'sigmoid input without BN (Fig. 1b)'
set key top right
plot 'docs/lab/convergence.csv' using (strcol(2) eq 'none' ? $1 : 1/0):5:7 with filledcurves fs transparent solid 0.25 title '15th-85th percentile', 'docs/lab/convergence.csv' using (strcol(2) eq 'none' ? $1 : 1/0):6 with lines lw 2 title 'median'
set title 'sigmoid input with BN (Fig. 1c)'
set key top right
plot 'docs/lab/convergence.csv' using (strcol(2) eq 'bn' ? $1 : 1/0):5:7 with filledcurves fs transparent solid 0.25 title '15th-85th percentile', 'docs/lab/convergence.csv' using (strcol(2) eq 'bn' ? $1 : 1/0):6 with lines lw 2 title 'median'
unset multiplot
