set terminal pngcairo size 1150,440 noenhanced
set output 'docs/lab/why-bn/ghost.png'
set datafile separator ','
set grid
set multiplot layout 1,2
set logscale x
set xlabel 'training steps (log)'
set key bottom right
set title 'test accuracy'
plot 'docs/lab/why-bn/ghost.csv' using (strcol(1) eq 'batch 128' ? $2 : 1/0):3 with linespoints lw 2 title 'batch 128', 'docs/lab/why-bn/ghost.csv' using (strcol(1) eq 'batch 4096' ? $2 : 1/0):3 with linespoints lw 2 title 'batch 4096', 'docs/lab/why-bn/ghost.csv' using (strcol(1) eq '+ sqrt lr scaling' ? $2 : 1/0):3 with linespoints lw 2 title '+ sqrt lr scaling', 'docs/lab/why-bn/ghost.csv' using (strcol(1) eq '+ Ghost BN 128' ? $2 : 1/0):3 with linespoints lw 2 title '+ Ghost BN 128', 'docs/lab/why-bn/ghost.csv' using (strcol(1) eq '+ regime adaptation' ? $2 : 1/0):3 with linespoints lw 2 title '+ regime adaptation'
set title 'distance travelled ||w_t - w_0||'
plot 'docs/lab/why-bn/ghost.csv' using (strcol(1) eq 'batch 128' ? $2 : 1/0):4 with linespoints lw 2 title 'batch 128', 'docs/lab/why-bn/ghost.csv' using (strcol(1) eq 'batch 4096' ? $2 : 1/0):4 with linespoints lw 2 title 'batch 4096', 'docs/lab/why-bn/ghost.csv' using (strcol(1) eq '+ sqrt lr scaling' ? $2 : 1/0):4 with linespoints lw 2 title '+ sqrt lr scaling', 'docs/lab/why-bn/ghost.csv' using (strcol(1) eq '+ Ghost BN 128' ? $2 : 1/0):4 with linespoints lw 2 title '+ Ghost BN 128', 'docs/lab/why-bn/ghost.csv' using (strcol(1) eq '+ regime adaptation' ? $2 : 1/0):4 with linespoints lw 2 title '+ regime adaptation'
unset multiplot
