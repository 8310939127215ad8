// The program the documentation's snippets are linked into. It only has to
// link (so every function a snippet calls exists); it runs nothing. doctest is
// implemented here because some snippets show test cases.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

int main() {
    return 0;
}
