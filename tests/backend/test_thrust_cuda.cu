// SPDX-License-Identifier: Apache-2.0
// The device backend tests compiled by nvcc for the GPU: the same source as the Thrust host-system build.
#include "test_thrust.cpp"
#include "test_thrust_stream.cpp"
