set terminal pngcairo size 1100,420 noenhanced
set output 'docs/lab/design/resnet.png'
set datafile separator ','
set grid
set multiplot layout 1,2
set xlabel 'training steps'
set key top right
set title 'training loss'
plot 'docs/lab/design/resnet.csv' using (strcol(1) eq '20' && strcol(2) eq 'post' ? $3 : 1/0):4 with linespoints lw 2 title 'ResNet-20 post', 'docs/lab/design/resnet.csv' using (strcol(1) eq '20' && strcol(2) eq 'pre' ? $3 : 1/0):4 with linespoints lw 2 title 'ResNet-20 pre', 'docs/lab/design/resnet.csv' using (strcol(1) eq '56' && strcol(2) eq 'post' ? $3 : 1/0):4 with linespoints lw 2 title 'ResNet-56 post', 'docs/lab/design/resnet.csv' using (strcol(1) eq '56' && strcol(2) eq 'pre' ? $3 : 1/0):4 with linespoints lw 2 title 'ResNet-56 pre'
set title 'test error %'
plot 'docs/lab/design/resnet.csv' using (strcol(1) eq '20' && strcol(2) eq 'post' ? $3 : 1/0):((1 - $5) * 100) with linespoints lw 2 title 'ResNet-20 post', 'docs/lab/design/resnet.csv' using (strcol(1) eq '20' && strcol(2) eq 'pre' ? $3 : 1/0):((1 - $5) * 100) with linespoints lw 2 title 'ResNet-20 pre', 'docs/lab/design/resnet.csv' using (strcol(1) eq '56' && strcol(2) eq 'post' ? $3 : 1/0):((1 - $5) * 100) with linespoints lw 2 title 'ResNet-56 post', 'docs/lab/design/resnet.csv' using (strcol(1) eq '56' && strcol(2) eq 'pre' ? $3 : 1/0):((1 - $5) * 100) with linespoints lw 2 title 'ResNet-56 pre'
unset multiplot
