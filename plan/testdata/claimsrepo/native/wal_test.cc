#include <gtest/gtest.h>

TEST(WalTest, RecoversFromTornWrite) {}
TEST(WalTest, PrintsUsage) {}
