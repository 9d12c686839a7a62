// SPDX-License-Identifier: Apache-2.0
// sinter::data: datasets, transforms and the DataLoader. Reading IDX .gz files needs zlib (link ZLIB::ZLIB).
#pragma once

#include <sinter/data/dataloader.hpp>
#include <sinter/data/dataset.hpp>
#include <sinter/data/idx.hpp>
#include <sinter/data/transforms.hpp>
