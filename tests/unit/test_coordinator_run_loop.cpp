// SPDX-License-Identifier: MIT
#include "coordinator/run/run_loop.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

using namespace fleet::coordinator;

TEST_CASE("a confirmation starts while every reattachment thread is taken") {
  RunLoop loop(1, [](double) {});
  std::atomic<bool> confirmed{false};
  int reattachments_that_saw_it = 0;
  // More reattachments than their pool has threads, each holding its thread until the
  // confirmation has run or 5 s have passed: a confirmation queued behind them would be late.
  for (int i = 0; i < 12; ++i) {
    loop.offload(RunLoop::Pool::reattachments, [&]() -> RunLoop::Continuation {
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds{5};
      while (!confirmed && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
      }
      return [&, saw = confirmed.load()] { reattachments_that_saw_it += saw ? 1 : 0; };
    });
  }
  loop.offload(RunLoop::Pool::confirmations, [&]() -> RunLoop::Continuation {
    confirmed = true;
    return {};
  });
  loop.run();
  CHECK(confirmed);
  CHECK(reattachments_that_saw_it == 12);
}

TEST_CASE("work escaping with an exception leaves the run, after the threads are done") {
  RunLoop loop(2, [](double) {});
  std::atomic<int> finished{0};
  loop.offload(RunLoop::Pool::confirmations, [&]() -> RunLoop::Continuation {
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
    ++finished;
    return {};
  });
  loop.offload(RunLoop::Pool::jobs, []() -> RunLoop::Continuation { throw std::logic_error("a bug"); });
  CHECK_THROWS_WITH(loop.run(), "a bug");
  CHECK(finished == 1);  // joined, not abandoned: no joinable thread is destroyed
}
