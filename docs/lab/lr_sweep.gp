set terminal pngcairo size 1100,420 noenhanced
set output 'docs/lab/lr_sweep.png'
set datafile separator ','
set grid
set multiplot layout 1,2
set logscale x 10
set xlabel 'learning rate'
set key bottom left
set title 'final test accuracy (diverged runs at 0)'
set yrange [0:1]
plot 'docs/lab/lr_sweep.csv' using (strcol(1) eq 'no norm' ? $2 : 1/0):(strcol(3) eq '-' ? 0 : $3) with linespoints lw 2 title 'no norm', 'docs/lab/lr_sweep.csv' using (strcol(1) eq 'BN' ? $2 : 1/0):(strcol(3) eq '-' ? 0 : $3) with linespoints lw 2 title 'BN', 'docs/lab/lr_sweep.csv' using (strcol(1) eq 'BN + warm-up' ? $2 : 1/0):(strcol(3) eq '-' ? 0 : $3) with linespoints lw 2 title 'BN + warm-up', 'docs/lab/lr_sweep.csv' using (strcol(1) eq 'VGG-8 no norm' ? $2 : 1/0):(strcol(3) eq '-' ? 0 : $3) with linespoints lw 2 title 'VGG-8 no norm', 'docs/lab/lr_sweep.csv' using (strcol(1) eq 'VGG-8 BN' ? $2 : 1/0):(strcol(3) eq '-' ? 0 : $3) with linespoints lw 2 title 'VGG-8 BN'
set title "steps to the network's target accuracy"
set yrange [0:*]
set key top right
plot 'docs/lab/lr_sweep.csv' using (strcol(1) eq 'no norm' ? $2 : 1/0):(strcol(5) eq 'not reached' ? 1/0 : $5) with linespoints lw 2 title 'no norm', 'docs/lab/lr_sweep.csv' using (strcol(1) eq 'BN' ? $2 : 1/0):(strcol(5) eq 'not reached' ? 1/0 : $5) with linespoints lw 2 title 'BN', 'docs/lab/lr_sweep.csv' using (strcol(1) eq 'BN + warm-up' ? $2 : 1/0):(strcol(5) eq 'not reached' ? 1/0 : $5) with linespoints lw 2 title 'BN + warm-up', 'docs/lab/lr_sweep.csv' using (strcol(1) eq 'VGG-8 no norm' ? $2 : 1/0):(strcol(5) eq 'not reached' ? 1/0 : $5) with linespoints lw 2 title 'VGG-8 no norm', 'docs/lab/lr_sweep.csv' using (strcol(1) eq 'VGG-8 BN' ? $2 : 1/0):(strcol(5) eq 'not reached' ? 1/0 : $5) with linespoints lw 2 title 'VGG-8 BN'
unset multiplot
