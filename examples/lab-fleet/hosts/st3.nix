# The configuration of systemd lab host st3; tests edit it.
{
  message = "hello from st3";
}
