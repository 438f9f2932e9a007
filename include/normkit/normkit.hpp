// normkit: normalization layers for deep learning. One include for everything.
#pragma once

#include "normkit/adain.hpp"
#include "normkit/batch_norm.hpp"
#include "normkit/error.hpp"
#include "normkit/group_norm.hpp"
#include "normkit/layer_norm.hpp"
#include "normkit/nn/batch_norm.hpp"
#include "normkit/nn/parameter.hpp"
#include "normkit/tensor.hpp"
#include "normkit/threading.hpp"
#include "normkit/version.hpp"
#include "normkit/nn/fold.hpp"
#include "normkit/nn/frozen_batch_norm.hpp"
#include "normkit/nn/group_norm.hpp"
#include "normkit/nn/layer_norm.hpp"
#include "normkit/nn/adain.hpp"
