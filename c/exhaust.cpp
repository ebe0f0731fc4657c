// exhaust.cpp：教程“单个进程最多只能创建1024个Socket”一节的程序（教程里叫demo1）：不断socket()直到失败。
// sockfd: unchanged.
#include <iostream>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <unistd.h>
#include <netdb.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
using namespace std;
 
int main(int argc,char *argv[])
{
  if (argc!=3)
  {
    cout << "Using:./demo1 服务端的IP 服务端的端口\nExample:./demo1 192.168.101.139 5005\n\n"; 
    return -1;
  }

  // 第1步：创建客户端的socket。 打电话->准备电话机  
  int sockfd = -1;
  while (true)
  {
    sockfd = socket(AF_INET,SOCK_STREAM,0);
    if (sockfd==-1)
    {
      perror("socket"); return -1;
    }
    cout << "sockfd = " << sockfd<< endl;
  }
}
