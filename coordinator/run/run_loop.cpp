// SPDX-License-Identifier: MIT
#include "coordinator/run/run_loop.hpp"

#include "uploader/protocol/event.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <exception>

namespace fleet::coordinator {
namespace {

namespace asio = boost::asio;

constexpr std::chrono::milliseconds k_tick{250};
constexpr std::size_t k_reattachment_threads = 8;

}  // namespace

RunLoop::RunLoop(std::size_t jobs, std::function<void(double)> on_tick)
    : m_jobs(std::max<std::size_t>(1, jobs)), m_reattachments(k_reattachment_threads), m_guard(asio::make_work_guard(m_io)),
      m_timer(m_io), m_on_tick(std::move(on_tick)) {}

RunLoop::~RunLoop() { join_all(); }

void RunLoop::offload(Pool pool, BlockingWork work) {
  ++m_pending;
  switch (pool) {
    case Pool::jobs: asio::post(m_jobs, wrapped(std::move(work))); break;
    case Pool::reattachments: asio::post(m_reattachments, wrapped(std::move(work))); break;
    case Pool::confirmations: m_confirmations.emplace_back(wrapped(std::move(work))); break;
  }
}

std::function<void()> RunLoop::wrapped(BlockingWork work) {
  return [this, work = std::move(work)] {
    Continuation then;
    std::exception_ptr escaped;
    try {
      then = work();
    } catch (...) {
      escaped = std::current_exception();
    }
    post([this, then = std::move(then), escaped] {
      --m_pending;
      if (escaped) {
        std::rethrow_exception(escaped);
      }
      if (then) {
        then();
      }
      finish_if_idle();
    });
  };
}

void RunLoop::post(std::function<void()> task) { asio::post(m_io, std::move(task)); }

void RunLoop::finish_if_idle() {
  if (m_pending == 0) {
    m_timer.cancel();
    m_guard.reset();
  }
}

void RunLoop::tick() {
  m_on_tick(protocol::now_seconds());
  m_timer.expires_after(k_tick);
  m_timer.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && m_guard.owns_work()) {
      tick();
    }
  });
}

void RunLoop::run() {
  finish_if_idle();
  if (m_guard.owns_work()) {
    tick();
  }
  try {
    m_io.run();
  } catch (...) {
    // A bug surfaced on the loop thread: start nothing more, let the pools finish what they hold
    // (their results go to a loop that no longer runs), then let the error leave the run.
    m_jobs.stop();
    m_reattachments.stop();
    join_all();
    throw;
  }
  join_all();
}

void RunLoop::join_all() {
  m_jobs.join();
  m_reattachments.join();
  for (auto& thread : m_confirmations) {
    thread.join();
  }
  m_confirmations.clear();
}

}  // namespace fleet::coordinator
