// SPDX-License-Identifier: MIT
#include "uploader/protocol/eval_batches.hpp"

#include <catch2/catch.hpp>

using fleet::protocol::eval_batch_sizes;
using fleet::protocol::eval_worker_sizes;
using Sizes = std::vector<std::size_t>;

TEST_CASE("evaluation batches fit memory / evalMemoryMB and are even") {
  CHECK(eval_batch_sizes(20, 8192, 1024) == Sizes{7, 7, 6});  // 8 fit: three batches, evened out
  CHECK(eval_batch_sizes(7, 3 * 1024, 1024) == Sizes{3, 2, 2});
  CHECK(eval_batch_sizes(4, 8192, 1024) == Sizes{4});
  CHECK(eval_batch_sizes(3, 1024, 1024) == Sizes{1, 1, 1});
  CHECK(eval_batch_sizes(3, 500, 1024) == Sizes{1, 1, 1});  // never zero per batch
  CHECK(eval_batch_sizes(0, 8192, 1024).empty());
}

TEST_CASE("without a memory figure every target is in one batch") {
  CHECK(eval_batch_sizes(20, std::nullopt, 1024) == Sizes{20});
  CHECK(eval_batch_sizes(5, 8192, 0) == Sizes{5});
  CHECK(eval_batch_sizes(0, std::nullopt, 1024).empty());
}

TEST_CASE("a batch is shared among at most `workers` evaluators, evenly") {
  CHECK(eval_worker_sizes(4, 2) == Sizes{2, 2});
  CHECK(eval_worker_sizes(5, 2) == Sizes{3, 2});
  CHECK(eval_worker_sizes(2, 8) == Sizes{1, 1});  // never an evaluator without a target
  CHECK(eval_worker_sizes(3, 1) == Sizes{3});
  CHECK(eval_worker_sizes(3, 0) == Sizes{3});  // at least one
  CHECK(eval_worker_sizes(0, 4).empty());
}
