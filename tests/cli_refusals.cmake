# Each bad command line must end with a non-zero status and its message,
# before any training starts (no "epoch" line). -DCLI=path/to/normkit
# -DWORK=scratch directory; -DSANITIZED=ON in the sanitizer build, whose
# operator new reports running out of memory and ends the process instead of
# throwing std::bad_alloc: there the out-of-memory case is left to the
# Release build.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}" "${WORK}/fifo-data" "${WORK}/zero-data")
# Data files that are not files: a FIFO (a read would block) and /dev/zero
# (a read would never end).
execute_process(COMMAND mkfifo "${WORK}/fifo-data/train-images-idx3-ubyte.gz" COMMAND_ERROR_IS_FATAL ANY)
file(CREATE_LINK /dev/zero "${WORK}/zero-data/train-images-idx3-ubyte.gz" SYMBOLIC)
foreach(dir fifo-data zero-data)
  foreach(name train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
    file(CREATE_LINK /usr/share/datasets/fashion-mnist/${name} "${WORK}/${dir}/${name}" SYMBOLIC)
  endforeach()
endforeach()
set(cases
  "--limit^0|--limit: expected >= 1 images, got 0"
  "--limit^-5|--limit: expected >= 1 images, got -5"
  "--lr^inf|--lr: expected a finite number, got 'inf'"
  "--gamma^nan|--gamma: expected a finite number, got 'nan'"
  "--epochs^0x1|--epochs: expected an integer, got '0x1'"
  "--epochs^ 1|--epochs: expected an integer, got ' 1'"
  "--epochs^1.5|--epochs: expected an integer, got '1.5'"
  "--augment^on^--shift^1000000|--shift: expected 0 to 27 pixels"
  "--gamma^0|--gamma: expected a finite number > 0, got 0"
  "--label-smoothing^1.5|--label-smoothing: expected 0 to 1, got 1.5"
  "--eval-every^-1|--eval-every: expected >= 0 epochs"
  "--checkpoint^/proc/forbidden/ck.st|--checkpoint: /proc/forbidden/ck.st: directory /proc/forbidden does not exist"
  "--checkpoint^/dev/null|--checkpoint: /dev/null: not a regular file \\(a device\\)"
  "--checkpoint^${WORK}|not a regular file \\(a directory\\)"
  "--resume^${WORK}/none.st|${WORK}/none.st: no such file"
  "--model^cnn^--width^100000000|error: out of memory"
  "--data^${WORK}/fifo-data|fifo-data/train-images-idx3-ubyte.gz: not a regular file \\(a FIFO\\)"
  "--data^${WORK}/zero-data|zero-data/train-images-idx3-ubyte.gz: not a regular file \\(a device\\)"
  "--data^/dev|Fashion-MNIST: /dev/train-images-idx3-ubyte.gz not found"
)
if(SANITIZED)
  list(FILTER cases EXCLUDE REGEX "out of memory")
endif()
foreach(case IN LISTS cases)
  # "ARG^ARG|expected": the arguments, separated by ^, and the message.
  string(FIND "${case}" "|" bar)
  string(SUBSTRING "${case}" 0 ${bar} arguments)
  math(EXPR after "${bar} + 1")
  string(SUBSTRING "${case}" ${after} -1 expected)
  string(REPLACE "^" ";" parts "${arguments}")
  string(REPLACE "^" " " shown "${arguments}")
  execute_process(COMMAND "${CLI}" train --epochs 1 ${parts} RESULT_VARIABLE status OUTPUT_VARIABLE out
                  ERROR_VARIABLE out TIMEOUT 60)
  if(status EQUAL 0 OR NOT out MATCHES "${expected}" OR out MATCHES "epoch 1" OR out MATCHES "\\.tmp-")
    message(FATAL_ERROR "normkit train ${shown}: expected a failure with '${expected}' before training, "
                        "got status ${status}:\n${out}")
  endif()
  message(STATUS "refused as expected: ${shown}")
endforeach()
