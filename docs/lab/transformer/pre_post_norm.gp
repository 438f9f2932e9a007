set terminal pngcairo size 1200,440 noenhanced
set output 'docs/lab/transformer/pre_post_norm.png'
set datafile separator ','
set grid
set multiplot layout 1,2
set logscale x 10
set xlabel 'learning rate (AdamW)'
set key bottom left
set title 'final test accuracy (diverged at 0)'
set yrange [0:1]
plot 'docs/lab/transformer/pre_post_norm.csv' using (strcol(1) eq '4' && strcol(2) eq 'post' && strcol(3) eq 'no' ? $4 : 1/0):(strcol(5) eq '-' ? 0 : $5) with linespoints lw 2 title '4 blocks post', 'docs/lab/transformer/pre_post_norm.csv' using (strcol(1) eq '4' && strcol(2) eq 'post' && strcol(3) eq 'yes' ? $4 : 1/0):(strcol(5) eq '-' ? 0 : $5) with linespoints lw 2 title '4 blocks post + warm-up', 'docs/lab/transformer/pre_post_norm.csv' using (strcol(1) eq '4' && strcol(2) eq 'pre' && strcol(3) eq 'no' ? $4 : 1/0):(strcol(5) eq '-' ? 0 : $5) with linespoints lw 2 title '4 blocks pre', 'docs/lab/transformer/pre_post_norm.csv' using (strcol(1) eq '4' && strcol(2) eq 'pre' && strcol(3) eq 'yes' ? $4 : 1/0):(strcol(5) eq '-' ? 0 : $5) with linespoints lw 2 title '4 blocks pre + warm-up', 'docs/lab/transformer/pre_post_norm.csv' using (strcol(1) eq '12' && strcol(2) eq 'post' && strcol(3) eq 'no' ? $4 : 1/0):(strcol(5) eq '-' ? 0 : $5) with linespoints lw 2 title '12 blocks post', 'docs/lab/transformer/pre_post_norm.csv' using (strcol(1) eq '12' && strcol(2) eq 'post' && strcol(3) eq 'yes' ? $4 : 1/0):(strcol(5) eq '-' ? 0 : $5) with linespoints lw 2 title '12 blocks post + warm-up', 'docs/lab/transformer/pre_post_norm.csv' using (strcol(1) eq '12' && strcol(2) eq 'pre' && strcol(3) eq 'no' ? $4 : 1/0):(strcol(5) eq '-' ? 0 : $5) with linespoints lw 2 title '12 blocks pre', 'docs/lab/transformer/pre_post_norm.csv' using (strcol(1) eq '12' && strcol(2) eq 'pre' && strcol(3) eq 'yes' ? $4 : 1/0):(strcol(5) eq '-' ? 0 : $5) with linespoints lw 2 title '12 blocks pre + warm-up'
unset logscale x
set logscale y 10
set yrange [*:*]
set xlabel 'block'
set key top left
set title 'gradient norm of linear2.weight per block at initialization'
plot 'docs/lab/transformer/pre_post_norm_gradients.csv' using (strcol(1) eq '4' && strcol(2) eq 'post' ? $3 : 1/0):4 with linespoints lw 2 title '4 blocks post-norm', 'docs/lab/transformer/pre_post_norm_gradients.csv' using (strcol(1) eq '4' && strcol(2) eq 'pre' ? $3 : 1/0):4 with linespoints lw 2 title '4 blocks pre-norm', 'docs/lab/transformer/pre_post_norm_gradients.csv' using (strcol(1) eq '12' && strcol(2) eq 'post' ? $3 : 1/0):4 with linespoints lw 2 title '12 blocks post-norm', 'docs/lab/transformer/pre_post_norm_gradients.csv' using (strcol(1) eq '12' && strcol(2) eq 'pre' ? $3 : 1/0):4 with linespoints lw 2 title '12 blocks pre-norm'
unset multiplot
