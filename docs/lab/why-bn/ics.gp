set terminal pngcairo size 1260,760 noenhanced
set output 'docs/lab/why-bn/ics.png'
set datafile separator ','
set grid
set multiplot layout 2,3
set xlabel 'training steps'
set key top right
set title 'conv 2: ||G - G''||'
plot 'docs/lab/why-bn/ics.csv' using (strcol(1) eq 'none' && strcol(2) eq 'conv 2' ? $3 : 1/0):4 with linespoints lw 2 title 'no BN', 'docs/lab/why-bn/ics.csv' using (strcol(1) eq 'bn' && strcol(2) eq 'conv 2' ? $3 : 1/0):4 with linespoints lw 2 title 'BN'
set title 'linear 3: ||G - G''||'
plot 'docs/lab/why-bn/ics.csv' using (strcol(1) eq 'none' && strcol(2) eq 'linear 3' ? $3 : 1/0):4 with linespoints lw 2 title 'no BN', 'docs/lab/why-bn/ics.csv' using (strcol(1) eq 'bn' && strcol(2) eq 'linear 3' ? $3 : 1/0):4 with linespoints lw 2 title 'BN'
set title 'linear 4: ||G - G''||'
plot 'docs/lab/why-bn/ics.csv' using (strcol(1) eq 'none' && strcol(2) eq 'linear 4' ? $3 : 1/0):4 with linespoints lw 2 title 'no BN', 'docs/lab/why-bn/ics.csv' using (strcol(1) eq 'bn' && strcol(2) eq 'linear 4' ? $3 : 1/0):4 with linespoints lw 2 title 'BN'
set title 'conv 2: cos(G, G'')'
plot 'docs/lab/why-bn/ics.csv' using (strcol(1) eq 'none' && strcol(2) eq 'conv 2' ? $3 : 1/0):6 with linespoints lw 2 title 'no BN', 'docs/lab/why-bn/ics.csv' using (strcol(1) eq 'bn' && strcol(2) eq 'conv 2' ? $3 : 1/0):6 with linespoints lw 2 title 'BN'
set title 'linear 3: cos(G, G'')'
plot 'docs/lab/why-bn/ics.csv' using (strcol(1) eq 'none' && strcol(2) eq 'linear 3' ? $3 : 1/0):6 with linespoints lw 2 title 'no BN', 'docs/lab/why-bn/ics.csv' using (strcol(1) eq 'bn' && strcol(2) eq 'linear 3' ? $3 : 1/0):6 with linespoints lw 2 title 'BN'
set title 'linear 4: cos(G, G'')'
plot 'docs/lab/why-bn/ics.csv' using (strcol(1) eq 'none' && strcol(2) eq 'linear 4' ? $3 : 1/0):6 with linespoints lw 2 title 'no BN', 'docs/lab/why-bn/ics.csv' using (strcol(1) eq 'bn' && strcol(2) eq 'linear 4' ? $3 : 1/0):6 with linespoints lw 2 title 'BN'
unset multiplot
