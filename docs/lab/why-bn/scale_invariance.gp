set terminal pngcairo size 1100,420 noenhanced
set output 'docs/lab/why-bn/scale_invariance.png'
set datafile separator ','
set grid
set multiplot layout 1,2
set xlabel 'training steps'
set key top left
set title 'weight norm ||w|| of the convolutions before BN'
plot 'docs/lab/why-bn/scale_invariance_training.csv' using (strcol(1) eq '0' && strcol(3) eq 'conv 1' ? $2 : 1/0):4 with lines lw 2 title 'conv 1, wd 0', 'docs/lab/why-bn/scale_invariance_training.csv' using (strcol(1) eq '0' && strcol(3) eq 'conv 2' ? $2 : 1/0):4 with lines lw 2 title 'conv 2, wd 0', 'docs/lab/why-bn/scale_invariance_training.csv' using (strcol(1) eq '0.0005' && strcol(3) eq 'conv 1' ? $2 : 1/0):4 with lines lw 2 title 'conv 1, wd 0.0005', 'docs/lab/why-bn/scale_invariance_training.csv' using (strcol(1) eq '0.0005' && strcol(3) eq 'conv 2' ? $2 : 1/0):4 with lines lw 2 title 'conv 2, wd 0.0005'
set title 'effective learning rate ||grad|| / ||w||'
plot 'docs/lab/why-bn/scale_invariance_training.csv' using (strcol(1) eq '0' && strcol(3) eq 'conv 1' ? $2 : 1/0):6 with lines lw 2 title 'conv 1, wd 0', 'docs/lab/why-bn/scale_invariance_training.csv' using (strcol(1) eq '0' && strcol(3) eq 'conv 2' ? $2 : 1/0):6 with lines lw 2 title 'conv 2, wd 0', 'docs/lab/why-bn/scale_invariance_training.csv' using (strcol(1) eq '0.0005' && strcol(3) eq 'conv 1' ? $2 : 1/0):6 with lines lw 2 title 'conv 1, wd 0.0005', 'docs/lab/why-bn/scale_invariance_training.csv' using (strcol(1) eq '0.0005' && strcol(3) eq 'conv 2' ? $2 : 1/0):6 with lines lw 2 title 'conv 2, wd 0.0005'
unset multiplot
