set terminal pngcairo size 1350,760 noenhanced
set output 'docs/lab/why-bn/landscape.png'
set datafile separator ','
set grid
set multiplot layout 2,3
set xlabel 'training steps'
set key top right
set title 'variation of loss, lr 0.03'
set logscale y
plot 'docs/lab/why-bn/landscape.csv' using (strcol(1) eq 'none' && strcol(2) eq '0.03' ? $3 : 1/0):5:6 with filledcurves fs transparent solid 0.35 title 'no BN', 'docs/lab/why-bn/landscape.csv' using (strcol(1) eq 'bn' && strcol(2) eq '0.03' ? $3 : 1/0):5:6 with filledcurves fs transparent solid 0.35 title 'BN'
set title 'gradient predictiveness: ||grad L(w) - grad L(w - eta g)||, lr 0.03'
unset logscale y
plot 'docs/lab/why-bn/landscape.csv' using (strcol(1) eq 'none' && strcol(2) eq '0.03' ? $3 : 1/0):7:8 with filledcurves fs transparent solid 0.35 title 'no BN', 'docs/lab/why-bn/landscape.csv' using (strcol(1) eq 'bn' && strcol(2) eq '0.03' ? $3 : 1/0):7:8 with filledcurves fs transparent solid 0.35 title 'BN'
set title 'effective beta-smoothness, lr 0.03'
unset logscale y
plot 'docs/lab/why-bn/landscape.csv' using (strcol(1) eq 'none' && strcol(2) eq '0.03' ? $3 : 1/0):9 with linespoints lw 2 title 'no BN', 'docs/lab/why-bn/landscape.csv' using (strcol(1) eq 'bn' && strcol(2) eq '0.03' ? $3 : 1/0):9 with linespoints lw 2 title 'BN'
set title 'variation of loss, lr 0.1'
set logscale y
plot 'docs/lab/why-bn/landscape.csv' using (strcol(1) eq 'none' && strcol(2) eq '0.1' ? $3 : 1/0):5:6 with filledcurves fs transparent solid 0.35 title 'no BN', 'docs/lab/why-bn/landscape.csv' using (strcol(1) eq 'bn' && strcol(2) eq '0.1' ? $3 : 1/0):5:6 with filledcurves fs transparent solid 0.35 title 'BN'
set title 'gradient predictiveness: ||grad L(w) - grad L(w - eta g)||, lr 0.1'
unset logscale y
plot 'docs/lab/why-bn/landscape.csv' using (strcol(1) eq 'none' && strcol(2) eq '0.1' ? $3 : 1/0):7:8 with filledcurves fs transparent solid 0.35 title 'no BN', 'docs/lab/why-bn/landscape.csv' using (strcol(1) eq 'bn' && strcol(2) eq '0.1' ? $3 : 1/0):7:8 with filledcurves fs transparent solid 0.35 title 'BN'
set title 'effective beta-smoothness, lr 0.1'
unset logscale y
plot 'docs/lab/why-bn/landscape.csv' using (strcol(1) eq 'none' && strcol(2) eq '0.1' ? $3 : 1/0):9 with linespoints lw 2 title 'no BN', 'docs/lab/why-bn/landscape.csv' using (strcol(1) eq 'bn' && strcol(2) eq '0.1' ? $3 : 1/0):9 with linespoints lw 2 title 'BN'
unset multiplot
