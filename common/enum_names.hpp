// The names an enum is written and read by (configuration values, metric
// labels, log fields): one table per enum, listed in the enumerators' order
// from 0 to its last, so that each name is written once for both directions.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace fgac {

template <typename Enum, Enum Last>
class EnumNames {
 public:
  static constexpr std::size_t kCount = static_cast<std::size_t>(Last) + 1;

  // One name per enumerator: a table of any other length does not compile.
  template <typename... Names>
  requires(sizeof...(Names) == kCount) consteval explicit EnumNames(Names... names)
      : names_{std::string_view(names)...} {}

  [[nodiscard]] constexpr std::string_view name(Enum value) const { return names_.at(static_cast<std::size_t>(value)); }

  [[nodiscard]] constexpr std::optional<Enum> parse(std::string_view text) const {
    for (std::size_t i = 0; i < kCount; ++i) {
      if (names_[i] == text) return static_cast<Enum>(i);
    }
    return std::nullopt;
  }

 private:
  std::array<std::string_view, kCount> names_;
};

}  // namespace fgac
