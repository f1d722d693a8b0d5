/* Links one layer's library whole (CMakeLists.txt): nothing to run. */
int main(void)
{
    return 0;
}
