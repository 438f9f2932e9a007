set terminal pngcairo size 760,450 noenhanced
set output 'docs/lab/why-bn/noisy_bn.png'
set datafile separator ','
set grid
set xlabel 'training steps'
set ylabel 'test accuracy'
set key bottom right
set title 'standard, noisy and no BN (Santurkar et al. Fig. 2)'
plot 'docs/lab/why-bn/noisy_bn.csv' using (strcol(1) eq 'standard BN' ? $2 : 1/0):($11 * 1):($12 * 1) with filledcurves fs transparent solid 0.2 noborder lc 1 notitle, 'docs/lab/why-bn/noisy_bn.csv' using (strcol(1) eq 'standard BN' ? $2 : 1/0):($4 * 1) with linespoints lw 2 pt 7 ps 0.5 lc 1 title 'standard BN', 'docs/lab/why-bn/noisy_bn.csv' using (strcol(1) eq 'noisy BN' ? $2 : 1/0):($11 * 1):($12 * 1) with filledcurves fs transparent solid 0.2 noborder lc 2 notitle, 'docs/lab/why-bn/noisy_bn.csv' using (strcol(1) eq 'noisy BN' ? $2 : 1/0):($4 * 1) with linespoints lw 2 pt 7 ps 0.5 lc 2 title 'noisy BN', 'docs/lab/why-bn/noisy_bn.csv' using (strcol(1) eq 'no BN' ? $2 : 1/0):($11 * 1):($12 * 1) with filledcurves fs transparent solid 0.2 noborder lc 3 notitle, 'docs/lab/why-bn/noisy_bn.csv' using (strcol(1) eq 'no BN' ? $2 : 1/0):($4 * 1) with linespoints lw 2 pt 7 ps 0.5 lc 3 title 'no BN'
