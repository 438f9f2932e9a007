// normkit: normalization layers for deep learning. One include for the
// kernels (normkit/kernels.hpp) and the normalization modules.
#pragma once

#include "normkit/kernels.hpp"
#include "normkit/nn/adain.hpp"
#include "normkit/nn/add_norm.hpp"
#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/dyt.hpp"
#include "normkit/nn/fold.hpp"
#include "normkit/nn/grad_mode.hpp"
#include "normkit/nn/frozen_batch_norm.hpp"
#include "normkit/nn/group_norm.hpp"
#include "normkit/nn/layer_norm.hpp"
#include "normkit/nn/parameter.hpp"
