# The configuration of lab host t5; tests edit the message to change it.
{
  message = "hello from t5";
}
