# The configuration of systemd lab host st1; tests edit it.
{
  message = "hello from st1";
}
