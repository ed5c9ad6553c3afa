// SPDX-License-Identifier: MIT
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

namespace fleet::coordinator {

// The threads of one run. The loop thread owns every piece of run state; blocking agent work
// runs on a pool and hands a continuation back to the loop thread. Reattachments have a pool of
// their own, since the job pool may be busy for the whole run; each confirmation gets a thread of
// its own, since one that waits for a free thread past its target's deadline means a rollback
// (a reattachment may take a thread for confirmTimeout + 5 minutes). The run lasts while any
// offloaded work is under way.
class RunLoop {
public:
  using Continuation = std::function<void()>;
  using BlockingWork = std::function<Continuation()>;
  enum class Pool { jobs, reattachments, confirmations };

  // `jobs` threads for agent work; `on_tick` is called on the loop thread about four times a
  // second with the current time, while the run lasts.
  RunLoop(std::size_t jobs, std::function<void(double)> on_tick);
  ~RunLoop();  // waits for offloaded work still under way, should run() not have

  // From the loop thread: runs `work` on `pool` (for `confirmations`, on a new thread), then, on the loop thread, what it returns. An
  // exception that escapes `work` is rethrown on the loop thread (and so from run()): agent
  // failures are for `work` to catch, anything else is a bug.
  void offload(Pool pool, BlockingWork work);

  // From any thread: runs `task` on the loop thread, after what was posted before it.
  void post(std::function<void()> task);

  // Runs the loop until no offloaded work is left, then waits for the pools to drain.
  void run();

private:
  // `work` and then, on the loop thread, its continuation; where `work` runs is the caller's.
  std::function<void()> wrapped(BlockingWork work);
  void join_all();
  void finish_if_idle();
  void tick();

  boost::asio::io_context m_io;
  boost::asio::thread_pool m_jobs;
  boost::asio::thread_pool m_reattachments;
  std::vector<std::thread> m_confirmations;  // joined when the run ends
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> m_guard;
  boost::asio::steady_timer m_timer;
  std::function<void(double)> m_on_tick;
  std::size_t m_pending = 0;
};

}  // namespace fleet::coordinator
