#include "outbox_worker/completion.hpp"

namespace fgac::worker {

namespace asio = boost::asio;

asio::awaitable<bool> PgCompletion::complete(const outbox::ClaimedRow& row,
                                             const std::optional<std::string>& zedtoken) {
  co_return co_await on_database<bool>(pool_, [&](pqxx::connection& c) { return outbox_.complete(c, row, zedtoken); });
}

asio::awaitable<bool> PgCompletion::retry(const outbox::ClaimedRow& row, std::chrono::milliseconds delay,
                                          const outbox::Failure& failure) {
  co_return co_await on_database<bool>(pool_,
                                       [&](pqxx::connection& c) { return outbox_.retry(c, row, delay, failure); });
}

asio::awaitable<bool> PgCompletion::dead_letter(const outbox::ClaimedRow& row, const outbox::Failure& failure) {
  co_return co_await on_database<bool>(pool_,
                                       [&](pqxx::connection& c) { return outbox_.dead_letter(c, row, failure); });
}

}  // namespace fgac::worker
